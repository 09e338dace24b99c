/**
 * File system errors in words people understand: the errno codes users meet when saving (disk full,
 * read-only disk, permission, file in use…) become the messages docs/project-format.md lists, the
 * code kept in brackets. Used by the CLI and by both app modes.
 */

const IO_REASONS: Record<string, string> = {
  ENOENT: 'the folder does not exist',
  ENOTDIR: 'a part of the path is not a folder',
  EACCES: 'permission denied',
  EPERM: 'the operation is not permitted (is the file open elsewhere or read-only?)',
  ENOSPC: 'the disk is full',
  EDQUOT: 'the disk quota is exhausted',
  EROFS: 'the disk is read-only',
  EISDIR: 'it is a folder',
  EBUSY: 'the file is in use',
  ETXTBSY: 'the file is in use',
  EMFILE: 'too many files are open',
  EIO: 'an input/output error occurred',
  ENAMETOOLONG: 'the file name is too long',
};

/** The reason of a file system error, e.g. "the disk is full (ENOSPC)"; other errors' own message. */
export function ioReason(error: unknown): string {
  const code = (error as NodeJS.ErrnoException | null)?.code;
  const reason = code !== undefined ? IO_REASONS[code] : undefined;
  const message = error instanceof Error ? error.message : String(error);
  return reason ? `${reason} (${code})` : message;
}

/** Whether an error carries an errno code this module has words for. */
export function isKnownIoError(error: unknown): boolean {
  const code = (error as NodeJS.ErrnoException | null)?.code;
  return code !== undefined && code in IO_REASONS;
}
