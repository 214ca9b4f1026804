//! Conversions between the model types and the types generated from `wit/types.wit`.
//!
//! The component (wit-bindgen) and the host (wasmtime `bindgen!`) each generate their own Rust
//! types for the same WIT records, with the same names and fields. This macro writes the mapping
//! once; each side invokes it where `wt` names its generated `types` module and `m` names
//! [`crate::model`].

/// Defines `err_in/err_out`, the enum maps, `record_in/record_out`, `range_in/range_out`,
/// `query_in/query_out` and `page_in/page_out` (`*_in`: generated → model, `*_out`: model →
/// generated), private or `pub` as asked, over the `wt` and `m` paths in scope at the call site.
#[macro_export]
macro_rules! wit_type_conversions {
    () => { $crate::wit_type_conversions!(@all []); };
    (pub) => { $crate::wit_type_conversions!(@all [pub]); };
    (@all [$($vis:tt)*]) => {
        #[allow(dead_code)]
        $($vis)* fn err_in(e: wt::Error) -> m::Error {
            use wt::Error as E;
            match e {
                E::NotFound(s) => m::Error::NotFound(s),
                E::InvalidRef(s) => m::Error::InvalidRef(s),
                E::InvalidArgument(s) => m::Error::InvalidArgument(s),
                E::TooLarge(i) => m::Error::TooLarge { limit: i.limit, needed: i.needed },
                E::RangeNotSatisfiable(n) => m::Error::RangeNotSatisfiable(n),
                E::Integrity(s) => m::Error::Integrity(s),
                E::Decode(s) => m::Error::Decode(s),
                E::Conflict(s) => m::Error::Conflict(s),
                E::Forbidden(s) => m::Error::Forbidden(s),
                E::Expired(s) => m::Error::Expired(s),
                E::Storage(s) => m::Error::Storage(s),
                E::Metadata(s) => m::Error::Metadata(s),
            }
        }

        #[allow(dead_code)]
        $($vis)* fn err_out(e: m::Error) -> wt::Error {
            use m::Error as E;
            match e {
                E::NotFound(s) => wt::Error::NotFound(s),
                E::InvalidRef(s) => wt::Error::InvalidRef(s),
                E::InvalidArgument(s) => wt::Error::InvalidArgument(s),
                E::TooLarge { limit, needed } => wt::Error::TooLarge(wt::TooLargeInfo { limit, needed }),
                E::RangeNotSatisfiable(n) => wt::Error::RangeNotSatisfiable(n),
                E::Integrity(s) => wt::Error::Integrity(s),
                E::Decode(s) => wt::Error::Decode(s),
                E::Conflict(s) => wt::Error::Conflict(s),
                E::Forbidden(s) => wt::Error::Forbidden(s),
                E::Expired(s) => wt::Error::Expired(s),
                E::Storage(s) => wt::Error::Storage(s),
                E::Metadata(s) => wt::Error::Metadata(s),
            }
        }

        $crate::wit_type_conversions!(@enum [$($vis)*], compression_in, compression_out, wt::Compression, m::Compression, [None, Gzip, Deflate]);
        $crate::wit_type_conversions!(@enum [$($vis)*], scope_in, scope_out, wt::Scope, m::Scope, [Step, Execution, Workflow, Permanent]);
        $crate::wit_type_conversions!(@enum [$($vis)*], kind_in, kind_out, wt::ArtifactKind, m::Kind, [ResultRef, TempRef, Manifest]);
        $crate::wit_type_conversions!(@enum [$($vis)*], mode_in, mode_out, wt::Mode, m::Mode, [Json, Text, Bytes]);
        $crate::wit_type_conversions!(@enum [$($vis)*], order_in, order_out, wt::Order, m::Order, [OldestFirst, NewestFirst]);
        $crate::wit_type_conversions!(@enum [$($vis)*], if_exists_in, if_exists_out, wt::IfExists, m::IfExists, [Get, Overwrite, Fail]);

        #[allow(dead_code)]
        $($vis)* fn record_in(r: wt::ArtifactRecord) -> m::Record {
            m::Record {
                id: r.id,
                bucket: r.bucket,
                name: r.name,
                logical_ref: r.logical_ref,
                kind: kind_in(r.kind),
                content_type: r.content_type,
                compression: compression_in(r.compression),
                bytes: r.bytes,
                stored_bytes: r.stored_bytes,
                sha256: r.sha256,
                location: m::Location { driver: r.location.driver, uri: r.location.uri },
                scope: scope_in(r.scope),
                store_tier: r.store_tier,
                execution_id: r.execution_id,
                created_by: r.created_by,
                created_at: r.created_at,
                updated_at: r.updated_at,
                expires_at: r.expires_at,
                preview: r.preview,
                extracted: r.extracted,
            }
        }

        #[allow(dead_code)]
        $($vis)* fn record_out(r: m::Record) -> wt::ArtifactRecord {
            wt::ArtifactRecord {
                id: r.id,
                bucket: r.bucket,
                name: r.name,
                logical_ref: r.logical_ref,
                kind: kind_out(r.kind),
                content_type: r.content_type,
                compression: compression_out(r.compression),
                bytes: r.bytes,
                stored_bytes: r.stored_bytes,
                sha256: r.sha256,
                location: wt::Location { driver: r.location.driver, uri: r.location.uri },
                scope: scope_out(r.scope),
                store_tier: r.store_tier,
                execution_id: r.execution_id,
                created_by: r.created_by,
                created_at: r.created_at,
                updated_at: r.updated_at,
                expires_at: r.expires_at,
                preview: r.preview,
                extracted: r.extracted,
            }
        }

        #[allow(dead_code)]
        $($vis)* fn range_in(r: wt::ByteRange) -> m::ByteRange {
            match r {
                wt::ByteRange::Bounded(b) => m::ByteRange::Bounded { start: b.start, end: b.end },
                wt::ByteRange::From(s) => m::ByteRange::From(s),
                wt::ByteRange::Suffix(n) => m::ByteRange::Suffix(n),
            }
        }

        #[allow(dead_code)]
        $($vis)* fn range_out(r: m::ByteRange) -> wt::ByteRange {
            match r {
                m::ByteRange::Bounded { start, end } => wt::ByteRange::Bounded(wt::BoundedRange { start, end }),
                m::ByteRange::From(s) => wt::ByteRange::From(s),
                m::ByteRange::Suffix(n) => wt::ByteRange::Suffix(n),
            }
        }

        #[allow(dead_code)]
        $($vis)* fn query_in(q: wt::ListQuery) -> m::ListQuery {
            m::ListQuery {
                bucket: q.bucket,
                name: q.name,
                name_prefix: q.name_prefix,
                created_by: q.created_by,
                created_after: q.created_after,
                created_before: q.created_before,
                uri: q.uri,
                expired_before: q.expired_before,
                order: order_in(q.order),
                cursor: q.cursor,
                limit: q.limit,
            }
        }

        #[allow(dead_code)]
        $($vis)* fn query_out(q: &m::ListQuery) -> wt::ListQuery {
            wt::ListQuery {
                bucket: q.bucket.clone(),
                name: q.name.clone(),
                name_prefix: q.name_prefix.clone(),
                created_by: q.created_by.clone(),
                created_after: q.created_after,
                created_before: q.created_before,
                uri: q.uri.clone(),
                expired_before: q.expired_before,
                order: order_out(q.order),
                cursor: q.cursor.clone(),
                limit: q.limit,
            }
        }

        #[allow(dead_code)]
        $($vis)* fn page_in(p: wt::Page) -> m::Page {
            m::Page { records: p.records.into_iter().map(record_in).collect(), next_cursor: p.next_cursor }
        }

        #[allow(dead_code)]
        $($vis)* fn page_out(p: m::Page) -> wt::Page {
            wt::Page { records: p.records.into_iter().map(record_out).collect(), next_cursor: p.next_cursor }
        }
    };
    (@enum [$($vis:tt)*], $in:ident, $out:ident, $w:ty, $m:ty, [$($v:ident),*]) => {
        #[allow(dead_code)]
        $($vis)* fn $in(x: $w) -> $m { match x { $(<$w>::$v => <$m>::$v),* } }
        #[allow(dead_code)]
        $($vis)* fn $out(x: $m) -> $w { match x { $(<$m>::$v => <$w>::$v),* } }
    };
}
