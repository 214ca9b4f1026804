// An example plugin in JavaScript: the same JSON commands as the Rust plugin
// (examples/plugins/rust/src/lib.rs), through the same `artifact:store/artifacts` import.
// Built with componentize-js (npm): see build.mjs.
import { put, get, head, openReader, delete as del, list } from 'artifact:store/artifacts@0.1.0';

// A failed call throws; the error variant ({ tag, val }) is its payload.
function kind(e) {
  const p = e && (e.payload ?? e);
  return (p && typeof p.tag === 'string') ? p.tag : `unknown: ${e}`;
}

function outcome(f) {
  try {
    f();
    return 'ok';
  } catch (e) {
    return kind(e);
  }
}

const putOptions = (bucket, name, contentType) => ({ contentType, bucket, name, createdBy: 'example-plugin (js)' });
const getOptions = (mode) => ({ mode });
const names = (bucket) => list({ bucket, order: 'oldest-first', limit: 1000 }).records.map((r) => r.name);

function handle(cmd) {
  const bucket = cmd.bucket ?? '';
  switch (cmd.op) {
    case 'demo': {
      const p = put(new TextEncoder().encode(cmd.text), putOptions(bucket, cmd.name, 'text/plain'));
      const g = get(p.record.id, getOptions('text'));
      return { id: p.record.id, result_ref: p.resultRef, got: g.data.val, names: names(bucket) };
    }
    case 'put':
      try {
        const p = put(new Uint8Array(cmd.size).fill(7), putOptions(bucket, cmd.name, 'application/octet-stream'));
        return { id: p.record.id };
      } catch (e) {
        return { error: kind(e) };
      }
    case 'try': {
      const out = [];
      for (const r of cmd.refs) {
        out.push(outcome(() => head(r)));
        out.push(outcome(() => get(r, getOptions('bytes'))));
        out.push(outcome(() => openReader(r, getOptions('bytes'))));
        out.push(outcome(() => del(r)));
      }
      return out;
    }
    case 'list':
      return names(bucket);
    default:
      throw `unknown command ${JSON.stringify(cmd)}`;
  }
}

export function run(input) {
  let cmd;
  try {
    cmd = JSON.parse(input);
  } catch (e) {
    throw `input is not JSON: ${e}`;
  }
  try {
    return JSON.stringify(handle(cmd));
  } catch (e) {
    throw typeof e === 'string' ? e : kind(e);
  }
}
