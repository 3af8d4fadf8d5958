// Augmentation demo, worker side: the source digits come from the site's MNIST test subset; the download's zip
// is built in Python (base64 in its JSON) and reaches the main thread as a Uint8Array.
export function handlers({ py, getData }) {
  return {
    async augment_run([spec, seed, source, index]) {
      return py("augment_run", spec, seed, source, await getData("mnist_test_images.u8"), index);
    },
    async augment_zip() {
      const out = await py("augment_zip");
      const bin = atob(out.b64);
      const bytes = new Uint8Array(bin.length);
      for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
      return { name: out.name, bytes };
    },
  };
}
