// Listing cursors shared with the Rust backends: "{created_at}.{id}", ordered by (created_at, id).
import { invalidArgument } from './errors.js';

const ID = /^[0-9A-HJKMNP-TV-Z]{26}$/;

export const encodeCursor = (createdAt, id) => `${createdAt}.${id}`;

export function decodeCursor(c) {
  const i = c.indexOf('.');
  const t = c.slice(0, i), id = c.slice(i + 1);
  if (i < 0 || !/^[0-9]+$/.test(t) || !ID.test(id)) throw invalidArgument(`malformed cursor ${JSON.stringify(c)}`);
  return [BigInt(t), id];
}

const cmpKey = (a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0);

/** ListQuery.matches from src/model.rs. */
export function matches(q, r) {
  const eq = (f, v) => f === undefined || f === v;
  return eq(q.bucket, r.bucket) && eq(q.name, r.name)
    && (q.namePrefix === undefined || r.name.startsWith(q.namePrefix))
    && (q.createdBy === undefined || r.createdBy === q.createdBy)
    && (q.createdAfter === undefined || r.createdAt >= q.createdAfter)
    && (q.createdBefore === undefined || r.createdAt < q.createdBefore)
    && eq(q.uri, r.location.uri)
    && (q.expiredBefore === undefined || (r.expiresAt !== undefined && r.expiresAt < q.expiredBefore));
}

/** One page of `records` for `q`, exactly as the Rust mem backend pages. */
export function page(records, q) {
  const after = q.cursor === undefined ? undefined : decodeCursor(q.cursor);
  const newest = q.order === 'newest-first';
  let rows = records.filter((r) => matches(q, r));
  rows.sort((a, b) => cmpKey([a.createdAt, a.id], [b.createdAt, b.id]));
  if (newest) rows.reverse();
  if (after) rows = rows.filter((r) => { const c = cmpKey([r.createdAt, r.id], after); return newest ? c < 0 : c > 0; });
  const limit = Math.min(Math.max(q.limit, 1), 1000);
  const out = rows.slice(0, limit + 1);
  let nextCursor;
  if (out.length > limit) {
    out.length = limit;
    const last = out[limit - 1];
    nextCursor = encodeCursor(last.createdAt, last.id);
  }
  return { records: out, nextCursor };
}

/** Byte order of the UTF-8 encodings (what Rust's `str` ordering is). */
export const cmpUtf8 = (a, b) => Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));

/** Ascending-order page of object URIs after `cursor` (storage.list-objects). */
/** `sortedUris` must be in UTF-8 byte order. */
export function uriPage(sortedUris, prefix, cursor, limit) {
  limit = Math.min(Math.max(limit, 1), 1000);
  const out = [];
  for (const u of sortedUris) {
    if (!u.startsWith(prefix) || (cursor !== undefined && cmpUtf8(u, cursor) <= 0)) continue;
    out.push(u);
    if (out.length > limit) break;
  }
  let nextCursor;
  if (out.length > limit) { out.length = limit; nextCursor = out[limit - 1]; }
  return { uris: out, nextCursor };
}
