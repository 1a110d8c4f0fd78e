// The entry the browser tests bundle with esbuild (tests/test_viewers.py): the
// ome-zarr.js function the OME-NGFF validator and the challenge's gallery call
// for a thumbnail, with the zarrita.js version ome-zarr.js depends on.
export { renderThumbnail } from "ome-zarr.js";
