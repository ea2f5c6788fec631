package ssh

// UploadTempFile is tempFile, for the external tests that watch an upload in progress.
const UploadTempFile = tempFile
