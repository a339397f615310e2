import { test } from 'node:test';
import assert from 'node:assert/strict';
import { StorageError } from '../src/errors.js';
import { encodeFrame, scanFrames, FRAME_HEADER_BYTES } from '../src/storage/frame.js';
import { decodeRecord, encodeRecord, type StoreRecord } from '../src/storage/log-record.js';

const payload = (text: string) => new TextEncoder().encode(text);
const concat = (...parts: Uint8Array[]) => {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.byteLength, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.byteLength;
  }
  return out;
};
const texts = (r: { payloads: Uint8Array[] }) => r.payloads.map((p) => new TextDecoder().decode(p));

const f1 = encodeFrame(payload('{"n":1}'));
const f2 = encodeFrame(payload('{"n":2}'));
const f3 = encodeFrame(payload('{"n":3}'));

test('frames are length | crc32 | payload, little-endian', () => {
  const view = new DataView(f1.buffer);
  assert.equal(view.getUint32(0, true), 7);
  // crc32('{"n":1}') computed independently of node:zlib (IEEE polynomial, reflected).
  assert.equal(view.getUint32(4, true), crc32Reference(payload('{"n":1}')));
  assert.equal(f1.byteLength, FRAME_HEADER_BYTES + 7);
});

test('intact frames scan back in order with no tail', () => {
  const r = scanFrames(concat(f1, f2, f3), 'x.log');
  assert.deepEqual(texts(r), ['{"n":1}', '{"n":2}', '{"n":3}']);
  assert.equal(r.tail, null);
  assert.equal(r.validBytes, f1.byteLength * 3);
});

test('a torn last frame is a tail: partial header, partial payload, bad checksum, zeros, garbage', () => {
  const whole = concat(f1, f2);
  const corruptLast = concat(f1, f2.slice());
  corruptLast[corruptLast.byteLength - 1] = corruptLast[corruptLast.byteLength - 1]! ^ 0xff;
  const tails = [
    concat(whole, f3.subarray(0, 5)),
    concat(whole, f3.subarray(0, f3.byteLength - 1)),
    concat(whole, new Uint8Array(64)),
    concat(whole, payload('garbage that is not a frame at all')),
  ];
  for (const bytes of tails) {
    const r = scanFrames(bytes, 'x.log');
    assert.deepEqual(texts(r), ['{"n":1}', '{"n":2}']);
    assert.equal(r.validBytes, whole.byteLength);
    assert.ok(r.tail !== null);
  }
  const r = scanFrames(corruptLast, 'x.log');
  assert.deepEqual(texts(r), ['{"n":1}']);
  assert.match(r.tail!, /checksum/);
});

test('damage followed by an intact frame is a StorageError', () => {
  const bytes = concat(f1, f2.slice(), f3);
  bytes[f1.byteLength + FRAME_HEADER_BYTES + 2] = bytes[f1.byteLength + FRAME_HEADER_BYTES + 2]! ^ 0x01; // payload of frame 2
  assert.throws(() => scanFrames(bytes, 'x.log'), (e: unknown) => e instanceof StorageError && /intact record/.test(e.message));
  const longer = concat(f1, f2.slice(), f3);
  new DataView(longer.buffer).setUint32(f1.byteLength, 1000, true); // frame 2's length now runs past the end
  assert.throws(() => scanFrames(longer, 'x.log'), StorageError);
});

test('records round-trip exactly, embeddings bit for bit', () => {
  const embedding = new Float32Array([0.1, -0, 1e-45, -3.4028234663852886e38, 1 / 3]);
  const record: StoreRecord = {
    type: 'store',
    memories: [{ id: 'é✓', embedding, content: 'line\nbreak', lower: Math.fround(0.1), upper: 1, createdAt: 1712345678901.5 }],
    associations: [{ from: 'é✓', to: 'b', toSpace: 'other', weight: 0.25 }],
  };
  const back = decodeRecord(encodeRecord(record)) as StoreRecord;
  assert.deepEqual(new Uint8Array(back.memories[0]!.embedding.buffer), new Uint8Array(embedding.buffer));
  assert.deepEqual({ ...back, memories: [] }, { ...record, memories: [] });
  assert.deepEqual({ ...back.memories[0], embedding: null }, { ...record.memories[0], embedding: null });
});

test('payloads that are not records are rejected', () => {
  for (const bad of ['{"type":"nope"}', '{"type":"space","space":"x"}', '[1]', '{"type":"store","memories":[{}],"associations":[]}']) {
    assert.throws(() => decodeRecord(payload(bad)), Error, bad);
  }
});

function crc32Reference(bytes: Uint8Array): number {
  let crc = 0xffffffff;
  for (const b of bytes) {
    crc ^= b;
    for (let k = 0; k < 8; k++) crc = crc & 1 ? (crc >>> 1) ^ 0xedb88320 : crc >>> 1;
  }
  return (crc ^ 0xffffffff) >>> 0;
}
