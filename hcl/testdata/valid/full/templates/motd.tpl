Profiling here: %{ for m in members }${m} %{ endfor }
