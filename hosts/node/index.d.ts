// TypeScript declarations of the artifact-store package. The WIT types (records, options,
// errors) are the ones jco generates from wit/ into gen/interfaces/.
import type * as Types from './gen/interfaces/artifact-store-types.js';
import type * as Artifacts from './gen/interfaces/artifact-store-artifacts.js';
import type * as Metadata from './gen/interfaces/artifact-store-metadata.js';
import type * as Storage from './gen/interfaces/artifact-store-storage.js';

export type ArtifactRecord = Types.ArtifactRecord;
export type ArtifactKind = Types.ArtifactKind;
export type Compression = Types.Compression;
export type Scope = Types.Scope;
export type Mode = Types.Mode;
export type IfExists = Types.IfExists;
export type ByteRange = Types.ByteRange;
export type ListQuery = Types.ListQuery;
export type Page = Types.Page;
export type BucketSummary = Types.BucketSummary;
export type Timestamp = Types.Timestamp;
/** The WIT `error` variant: `{tag, val}`. */
export type WitError = Types.Error;
/** The WIT error cases: `'not-found' | 'invalid-ref' | ... | 'metadata'`. */
export type ErrorKind = Types.Error['tag'];
export type Body = Artifacts.Body;
export type GetResult = Artifacts.GetResult;
export type PutResult = Artifacts.PutResult;
export type GcReport = Artifacts.GcReport;
export type Inserted = Metadata.Inserted;
export type Publish = Storage.Publish;
export type ObjectPage = Storage.ObjectPage;
/** The raw component export: every WIT function of `artifact:store/artifacts`, camelCase. */
export type ArtifactsExport = typeof Artifacts;

/** A u64 given from JavaScript: converted with `BigInt()`. */
export type U64 = bigint | number;
/** `{start, end}` (inclusive) | `{start}` | `{suffix}`, or a WIT `byte-range`. */
export type RangeSpec = ByteRange | { start: U64; end?: U64 } | { suffix: U64 };
export interface GetOptions extends Omit<Artifacts.GetOptions, 'maxBytes' | 'range'> {
  maxBytes?: U64;
  range?: RangeSpec;
}
export interface PutOptions extends Omit<Artifacts.PutOptions, 'maxBytes'> {
  maxBytes?: U64;
}
/** A list query: `order` defaults to `oldest-first`, `limit` to 100; timestamps may be numbers. */
export interface ListOptions extends Partial<Omit<ListQuery, 'createdAfter' | 'createdBefore' | 'expiredBefore'>> {
  createdAfter?: U64;
  createdBefore?: U64;
  expiredBefore?: U64;
}
export interface GcOptions {
  stagingGraceMs?: U64;
}

/** An error of the store: `.kind` the WIT case, `.message` the Rust host's sentence, `.payload` the WIT value. */
export class ArtifactError extends Error {
  constructor(payload: WitError, options?: { cause?: unknown });
  readonly name: 'ArtifactError';
  readonly kind: ErrorKind;
  readonly payload: WitError;
}

/** A staged object of a storage backend. */
export interface StorageWriter {
  write(chunk: Uint8Array): void;
  commit(uri: string, publish: Publish): boolean;
  abort(): void;
}
/** What a storage backend implements (`artifact:store/storage`; `stat` gives the size). */
export interface StorageBackend {
  drivers(): string[];
  createWriter(driver: string): StorageWriter;
  read(uri: string, offset: bigint, len: bigint): Uint8Array;
  stat(uri: string): bigint | undefined;
  listObjects(prefix: string, cursor: string | undefined, limit: number): ObjectPage;
  delete(uri: string): boolean;
  collectStaging?(before: bigint): number;
  close?(): void;
}
/** What a metadata backend implements: `artifact:store/metadata`, function for function. */
export type MetadataBackend = {
  [K in 'insertIfAbsent' | 'update' | 'getById' | 'getByRef' | 'getByName' | 'list' | 'summary' | 'delete' | 'touch'
    | 'pinObject' | 'unpinObject' | 'claimDelete' | 'finishDelete' | 'staleClaims']: (typeof Metadata)[K];
} & { close?(): void };
export interface Backends {
  storage: StorageBackend;
  metadata: MetadataBackend;
  /** `wasi:config` values the component reads (e.g. `signing_keys`). */
  config?: Record<string, string | number | boolean>;
}

/** One component instance over its backends. Methods throw `ArtifactError`. */
export class Store {
  private constructor();
  /** The raw export (throws jco's ComponentError with `.payload`). */
  readonly artifacts: ArtifactsExport;
  readonly backends: Backends;
  put(data: Uint8Array | string, options?: PutOptions): PutResult;
  get(ref: string, options?: GetOptions): GetResult;
  head(ref: string): ArtifactRecord;
  find(bucket: string, name: string): ArtifactRecord;
  list(query?: ListOptions): Page;
  listAll(query?: ListOptions): Generator<ArtifactRecord, void, undefined>;
  summary(bucket: string): BucketSummary;
  /** Deletes an artifact; returns its id. */
  delete(ref: string): string;
  gc(options?: GcOptions): GcReport;
  /** The logical body in chunks of at most `chunk` bytes (default CHUNK). */
  read(ref: string, options?: GetOptions, chunk?: number): Generator<Uint8Array, void, undefined>;
  /** The logical body in one buffer (a Node Buffer). */
  getBytes(ref: string, options?: GetOptions, chunk?: number): Uint8Array;
  putStream(chunks: Iterable<Uint8Array | string> | AsyncIterable<Uint8Array | string>, options?: PutOptions, chunk?: number): Promise<PutResult>;
  putFile(file: string, options?: PutOptions): Promise<PutResult>;
  /** Closes the SQLite connection, if any. */
  close(): void;
}

/** Largest chunk handed to one writer.write / asked of one reader.read (256 KiB). */
export const CHUNK: number;
/** Largest body `Store.put` passes to the component's `put` in one call; larger ones go through its writer (1 MiB). */
export const PUT_ONE_CALL: number;
export function toRange(r: RangeSpec | undefined | null): ByteRange | undefined;
export function openStore(backends: Backends): Promise<Store>;
export function memStore(options?: { driver?: string; config?: Backends['config'] }): Promise<Store>;
export function fsStore(root: string, options?: { config?: Backends['config'] }): Promise<Store>;
/**
 * The store of an ARTIFACT_HOME: `home/objects` + `home/metadata.db` (SQLite), shared with the
 * Rust CLI and the Python package. `config` defaults to `envConfig()`.
 */
export function homeStore(home?: string, options?: { config?: Backends['config'] }): Promise<Store>;
/** `$ARTIFACT_HOME`, else `./.artifacts` (absolute). */
export function defaultHome(): string;
/** `home/objects`, after moving a home of the older layout into it. */
export function objectsRoot(home: string): string;
/** `wasi:config` values from `ARTIFACT_CONFIG_*`, `ARTIFACT_SIGNING_KEYS`, `ARTIFACT_ACTIVE_KID`. */
export function envConfig(env?: Record<string, string | undefined>): Record<string, string>;

/** A record as the Rust CLI prints it (`meta`): keys in its order. */
export interface RecordJson {
  bucket: string;
  bytes: number;
  compression: Compression;
  content_type: string;
  created_at: string;
  created_by: string | null;
  encoding: 'utf-8' | null;
  execution_id: string | null;
  expires_at: string | null;
  id: string;
  kind: 'result_ref' | 'temp_ref' | 'manifest';
  name: string;
  ref: string;
  scope: Scope;
  sha256: string;
  storage: { driver: string; uri: string };
  stored_bytes: number;
  updated_at: string;
}
export function recordJson(record: ArtifactRecord): RecordJson;
/** `artifact head`'s output line (without the newline). */
export function headJson(record: ArtifactRecord): string;
/** `artifact put`'s output line. */
export function putJson(put: PutResult): string;
/** `artifact get`'s output line (json and text modes). */
export function getJson(got: GetResult): string;
/** `YYYY-MM-DDTHH:MM:SS.mmmZ` of epoch milliseconds. */
export function formatRfc3339(ms: U64): string;

export class MemStorage implements StorageBackend {
  constructor(options?: { driver?: string });
  readonly driver: string;
  readonly objects: Map<string, Uint8Array>;
  drivers(): string[];
  createWriter(driver: string): StorageWriter;
  read(uri: string, offset: bigint, len: bigint): Uint8Array;
  stat(uri: string): bigint | undefined;
  listObjects(prefix: string, cursor: string | undefined, limit: number): ObjectPage;
  delete(uri: string): boolean;
  collectStaging(before: bigint): number;
}
export class FsStorage implements StorageBackend {
  constructor(root: string);
  readonly root: string;
  drivers(): string[];
  createWriter(driver: string): StorageWriter;
  read(uri: string, offset: bigint, len: bigint): Uint8Array;
  stat(uri: string): bigint | undefined;
  listObjects(prefix: string, cursor: string | undefined, limit: number): ObjectPage;
  delete(uri: string): boolean;
  /** Removes staged files last modified before `before` (ms) of writers no longer running. */
  collectStaging(before: bigint): number;
}
declare class MetadataMethods {
  insertIfAbsent(rec: ArtifactRecord): Inserted;
  update(rec: ArtifactRecord): void;
  getById(id: string): ArtifactRecord | undefined;
  getByRef(logicalRef: string): ArtifactRecord | undefined;
  getByName(bucket: string, name: string): ArtifactRecord | undefined;
  list(query: ListQuery): Page;
  summary(bucket: string): BucketSummary;
  delete(id: string): boolean;
  touch(id: string, at: Timestamp): void;
  pinObject(uri: string, holder: string, now: Timestamp, until: Timestamp): boolean;
  unpinObject(uri: string, holder: string): void;
  claimDelete(uri: string, now: Timestamp, until: Timestamp): boolean;
  finishDelete(uri: string): void;
  staleClaims(before: Timestamp, limit: number): string[];
}
/** Records and claims in memory (one process). */
export class MemMetadata extends MetadataMethods {
  constructor();
}
/** MemMetadata persisted to one JSON file (one process at a time). */
export class FsMetadata extends MemMetadata {
  constructor(file: string);
  readonly file: string;
}
/** Metadata in a SQLite file (the Rust host's schema); several processes may share it. */
export class SqliteMetadata extends MetadataMethods {
  constructor(file: string);
  readonly file: string;
  /** When the artifact was last read and how often; undefined without such an artifact. */
  access(id: string): { accessedAt: bigint | undefined; accessCount: bigint } | undefined;
  close(): void;
}
