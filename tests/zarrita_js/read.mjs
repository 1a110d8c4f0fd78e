// node read.mjs ROOT PATH...: the top group and each array PATH below ROOT (a
// folder, or an http:// URL read with FetchStore as a web viewer reads it)
// opened as Zarr v3 with zarrita.js (zarr.open.v3) and read whole;
// prints {"root": {...group attributes}, "default": {...what plain zarr.open
// finds at the top}, "arrays": {PATH: {shape, stride, dtype, data: base64 of
// the values' bytes}}} as one JSON line. (zarr.open, as a viewer calls it,
// tries Zarr v2 first on a store it has opened nothing from: on a dual-format
// dataset it finds the 0.4 view.)
import FetchStore from "@zarrita/storage/fetch";
import FileSystemStore from "@zarrita/storage/fs";
import * as zarr from "zarrita";

const TYPED = {
  bool: Uint8Array, int8: Int8Array, int16: Int16Array, int32: Int32Array, int64: BigInt64Array,
  uint8: Uint8Array, uint16: Uint16Array, uint32: Uint32Array, uint64: BigUint64Array,
  float32: Float32Array, float64: Float64Array,
};
const [root, ...paths] = process.argv.slice(2);
const open = () => (/^https?:\/\//.test(root) ? new FetchStore(root) : new FileSystemStore(root));
const store = open();
const top = await zarr.open.v3(zarr.root(store), { kind: "group" });
const plain = await zarr.open(zarr.root(open()), { kind: "group" });
const out = { root: top.attrs, default: plain.attrs, arrays: {} };
for (const path of paths) {
  const arr = await zarr.open.v3(zarr.root(store).resolve(path), { kind: "array" });
  let chunk = await zarr.get(arr);
  if (chunk === null || typeof chunk !== "object" || !("data" in chunk)) {
    // a 0-d array: zarr.get gives the value itself
    chunk = { data: TYPED[arr.dtype].from([chunk]), shape: [], stride: [] };
  }
  const data = chunk.data;
  const bytes = new Uint8Array(data.buffer, data.byteOffset ?? 0, data.byteLength ?? data.buffer.byteLength);
  out.arrays[path] = {
    shape: chunk.shape,
    stride: chunk.stride,
    dtype: arr.dtype,
    data: Buffer.from(bytes).toString("base64"),
  };
}
process.stdout.write(JSON.stringify(out) + "\n");
