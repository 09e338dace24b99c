/** Errors of the document package, each with a code a caller can act on and a message a user can read. */

export type ProjectFileErrorCode =
  /** The path does not exist. */
  | 'not-found'
  /** Not a project file at all (another file type, or a zip without a project manifest). */
  | 'not-a-project'
  /** A project file, but damaged: truncated, bad zip data, bad JSON, PNG bytes that fail their checksum. */
  | 'corrupt'
  /** Written by a newer version of the app. */
  | 'newer-version'
  /** The manifest does not match the schema, or contradicts itself. */
  | 'schema'
  /** The manifest references a PNG that is not in the file. */
  | 'missing-pixels'
  /** Over a size limit (pixels, or the 4 GiB a zip can hold). */
  | 'too-large'
  /** Reading or writing failed (permissions, disk full…). */
  | 'io';

export class ProjectFileError extends Error {
  override name = 'ProjectFileError';
  constructor(
    readonly code: ProjectFileErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** An operation that cannot run in the document's current state (no engine, nothing to re-run…). */
export class DocumentStateError extends Error {
  override name = 'DocumentStateError';
}
