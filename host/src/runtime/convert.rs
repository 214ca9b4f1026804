//! Conversions between the generated WIT types and the shared model types
//! (`artifact_component::model`), which are the host's public vocabulary.

use super::bindings::artifact::store::types as wt;
use super::bindings::exports::artifact::store::artifacts as wa;
use artifact_component::model as m;

artifact_component::wit_type_conversions!(pub);

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
