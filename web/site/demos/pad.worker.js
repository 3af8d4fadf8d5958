// Digit-pad demo, worker side: test digits for the page's prediction benchmark.
export function handlers({ getData }) {
  return {
    async mnist_test_pixels([n = 10]) {
      // test digits (uint8) as flat float lists
      const [xi, yi] = await Promise.all(["mnist_test_images.u8", "mnist_test_labels.u8"].map(getData));
      const px = [];
      for (let i = 0; i < n; i++) px.push(Array.from(xi.subarray(i * 784, (i + 1) * 784), (v) => v / 255));
      return { pixels: px, labels: Array.from(yi.subarray(0, n)) };
    },
  };
}
