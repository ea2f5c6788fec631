# zsh -f capture.zsh SCRIPT LINE: the matches zsh's own completion offers after typing LINE and
# Tab in an interactive zsh that loaded SCRIPT, one a line as <<MATCH>>. A zsh under zpty is the
# real line editor; compadd is wrapped to print what it adds, and the Tab widget prints <<END>>.
zmodload zsh/zpty || exit 2
zpty z zsh -f -i
zpty -w z 'PROMPT= ; autoload -U compinit; compinit -u -D'
zpty -w z "source ${(q)1}"
zpty -w z 'compadd() { local -a m; builtin compadd -A m "$@"; builtin compadd "$@"; local x; for x in $m; do print -r -- "<<$x>>" >/dev/tty; done; }'
zpty -w z 'zstyle ":completion:*" menu no; zstyle ":completion:*" list-prompt ""'
zpty -w z 'tab() { zle complete-word; print -r -- "<<END>>" >/dev/tty; }; zle -N tab; bindkey "^I" tab'
zpty -w z 'print -r -- READY'
zpty -r z line '*READY*'
zpty -r z line '*READY*'
zpty -w -n z "$2"$'\t'
out=
while zpty -r -t z line || sleep 0.05; do
  out+=$line
  [[ $out == *'<<END>>'* ]] && break
done
print -r -- $out | grep -o '<<[^>]*>>' | grep -v '<<END>>' | sort -u
zpty -d z
