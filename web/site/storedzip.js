// Unpacks a zip whose entries are all stored (the build writes gpuml's wheel so: gpuml/webbuild/compress.py) straight
// into Pyodide's file system from JS: Python's zipfile did the same in 0.5-1 s on a loaded VM, most of a restored
// visit's install step (snapshot.js). Returns false, writing nothing, for any other zip (then use unpackArchive).
export function unpackStored(FS, bytes, dir) {
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let eocd = -1;
  for (let i = bytes.length - 22; i >= Math.max(0, bytes.length - 65557); i--) {
    if (v.getUint32(i, true) === 0x06054b50) { eocd = i; break; }
  }
  if (eocd < 0) return false;
  const entries = [];
  let p = v.getUint32(eocd + 16, true);
  for (let n = v.getUint16(eocd + 10, true); n > 0; n--) {
    if (v.getUint32(p, true) !== 0x02014b50) return false;
    const method = v.getUint16(p + 10, true), size = v.getUint32(p + 20, true);
    const nameLen = v.getUint16(p + 28, true), extra = v.getUint16(p + 30, true), comment = v.getUint16(p + 32, true);
    const local = v.getUint32(p + 42, true);
    const name = new TextDecoder().decode(bytes.subarray(p + 46, p + 46 + nameLen));
    if (method !== 0 || size !== v.getUint32(p + 24, true) || name.includes("..")) return false;
    if (v.getUint32(local, true) !== 0x04034b50) return false;
    const start = local + 30 + v.getUint16(local + 26, true) + v.getUint16(local + 28, true);
    entries.push([name, start, size]);
    p += 46 + nameLen + extra + comment;
  }
  const made = new Set();
  for (const [name, start, size] of entries) {
    const path = `${dir}/${name}`;
    const folder = name.endsWith("/") ? path : path.slice(0, path.lastIndexOf("/"));
    if (!made.has(folder)) {
      FS.mkdirTree(folder);
      made.add(folder);
    }
    if (!name.endsWith("/")) FS.writeFile(path, bytes.subarray(start, start + size));
  }
  return true;
}
