// Augmentation demo, worker side: the gallery's source digits come from the site's MNIST test subset.
export function handlers({ py, getData }) {
  return {
    async augment_run([spec, seed, source]) {
      return py("augment_run", spec, seed, source, await getData("mnist_test_images.u8"), 16);
    },
  };
}
