//! Conversions between the generated WIT types and the shared model types
//! (`artifact_component::model`), which are the host's public vocabulary.

use super::bindings::artifact::store::types as wt;
use super::bindings::exports::artifact::store::artifacts as wa;
use artifact_component::model as m;

pub fn err_in(e: wt::Error) -> m::Error {
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

pub fn err_out(e: m::Error) -> wt::Error {
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

macro_rules! enum_map {
    ($in:ident, $out:ident, $w:ty, $m:ty, [$($v:ident),*]) => {
        #[allow(dead_code)]
        pub fn $in(x: $w) -> $m { match x { $(<$w>::$v => <$m>::$v),* } }
        #[allow(dead_code)]
        pub fn $out(x: $m) -> $w { match x { $(<$m>::$v => <$w>::$v),* } }
    };
}
enum_map!(compression_in, compression_out, wt::Compression, m::Compression, [None, Gzip, Deflate]);
enum_map!(scope_in, scope_out, wt::Scope, m::Scope, [Step, Execution, Workflow, Permanent]);
enum_map!(kind_in, kind_out, wt::ArtifactKind, m::Kind, [ResultRef, TempRef, Manifest]);
enum_map!(mode_in, mode_out, wt::Mode, m::Mode, [Json, Text, Bytes]);
enum_map!(order_in, order_out, wt::Order, m::Order, [OldestFirst, NewestFirst]);
enum_map!(if_exists_in, if_exists_out, wt::IfExists, m::IfExists, [Get, Overwrite, Fail]);

pub fn record_in(r: wt::ArtifactRecord) -> m::Record {
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

pub fn record_out(r: m::Record) -> wt::ArtifactRecord {
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

pub fn range_out(r: m::ByteRange) -> wt::ByteRange {
    match r {
        m::ByteRange::Bounded { start, end } => wt::ByteRange::Bounded(wt::BoundedRange { start, end }),
        m::ByteRange::From(s) => wt::ByteRange::From(s),
        m::ByteRange::Suffix(n) => wt::ByteRange::Suffix(n),
    }
}

pub fn query_in(q: wt::ListQuery) -> m::ListQuery {
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

pub fn query_out(q: &m::ListQuery) -> wt::ListQuery {
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

pub fn page_in(p: wt::Page) -> m::Page {
    m::Page { records: p.records.into_iter().map(record_in).collect(), next_cursor: p.next_cursor }
}

pub fn page_out(p: m::Page) -> wt::Page {
    wt::Page { records: p.records.into_iter().map(record_out).collect(), next_cursor: p.next_cursor }
}

pub fn get_options_out(o: &m::GetOptions) -> wa::GetOptions {
    wa::GetOptions {
        mode: o.mode.map(mode_out),
        max_bytes: o.max_bytes,
        range: o.range.map(range_out),
        resolve_manifest: o.resolve_manifest,
        manifest_limits: o
            .manifest_limits
            .map(|l| wa::ManifestLimits { max_depth: l.max_depth, max_parts: l.max_parts }),
    }
}

pub fn put_options_out(o: &m::PutOptions) -> wa::PutOptions {
    wa::PutOptions {
        content_type: o.content_type.clone(),
        compression: o.compression.map(compression_out),
        bucket: o.bucket.clone(),
        name: o.name.clone(),
        if_exists: o.if_exists.map(if_exists_out),
        created_by: o.created_by.clone(),
        store: o.store.clone(),
        execution_id: o.execution_id.clone(),
        step: o.step.clone(),
        scope: o.scope.map(scope_out),
        ttl: o.ttl.clone(),
        kind: o.kind.map(kind_out),
        max_bytes: o.max_bytes,
        precompressed: o.precompressed,
    }
}

pub fn body_in(b: wa::Body) -> m::Body {
    match b {
        wa::Body::Json(s) => m::Body::Json(s),
        wa::Body::Text(s) => m::Body::Text(s),
        wa::Body::Bytes(v) => m::Body::Bytes(v),
    }
}

pub fn put_result_in(p: wa::PutResult) -> m::PutResult {
    m::PutResult { record: record_in(p.record), created: p.created, result_ref: p.result_ref }
}

pub fn strategy_out(s: artifact_component::manifest::Strategy) -> wa::Strategy {
    use artifact_component::manifest::Strategy as S;
    match s {
        S::Append => wa::Strategy::Append,
        S::Concat => wa::Strategy::Concat,
        S::Merge => wa::Strategy::Merge,
        S::Replace => wa::Strategy::Replace,
    }
}

/// The WIT record has no `metadata` field; a caller that sets it gets `invalid-argument` rather
/// than a manifest silently missing it.
pub fn manifest_options_out(o: &artifact_component::manifest::ManifestOptions) -> Result<wa::ManifestOptions, m::Error> {
    if o.metadata.is_some() {
        return Err(m::Error::InvalidArgument(
            "manifest metadata cannot be set through the component interface (use correlation)".into(),
        ));
    }
    Ok(wa::ManifestOptions {
        strategy: strategy_out(o.strategy),
        merge_path: o.merge_path.clone(),
        put: put_options_out(&o.put),
        correlation: o.correlation.clone(),
    })
}

pub fn part_in(p: wa::Part) -> artifact_component::manifest::Part {
    artifact_component::manifest::Part { index: p.index, data: body_in(p.data), meta: record_in(p.meta) }
}

pub fn externalize_options_out(o: &m::ExternalizeOptions) -> wa::ExternalizeOptions {
    wa::ExternalizeOptions {
        inline_max_bytes: o.inline_max_bytes,
        preview_max_bytes: o.preview_max_bytes,
        select: o.select.clone(),
        put: put_options_out(&o.put),
    }
}

pub fn externalized_in(x: wa::Externalized) -> m::Externalized {
    m::Externalized {
        inline: x.inline,
        result_ref: x.result_ref,
        preview: x.preview,
        extracted: x.extracted,
        error: x.error.map(err_in),
    }
}
