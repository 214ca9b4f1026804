// WIT `types.error` values. An import reports a WIT error by throwing the payload `{tag, val}`
// (jco turns a thrown non-Error value into the `err` case of the result).
export const err = (tag, val) => ({ tag, val });
export const notFound = (m) => err('not-found', m);
export const invalidArgument = (m) => err('invalid-argument', m);
export const conflict = (m) => err('conflict', m);
export const storageError = (m) => err('storage', m);
export const metadataError = (m) => err('metadata', m);
