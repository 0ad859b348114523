// Warping maths shared by the course's widgets: the same grid + bilinear sampler as
// stn_course.grid / stn_course.sampler (align_corners=False, zero padding), in plain JS so
// that a widget can redraw in a static page with no Python kernel behind it.
//
// A warp is described by `sourceOf(x, y) -> [xs, ys]`: for an output point in normalised
// coordinates (x right, y down, both in [-1, 1]) it returns the input point it samples.
// `affineSource`, `projectiveSource` make one from a 2x3 θ or a 3x3 homography; a TPS
// widget can pass its own function.

/** Normalised coordinate of the centre of pixel i on an axis of `size` pixels (align_corners=False). */
export function pixelToNorm(i, size) {
  return (2 * i + 1) / size - 1;
}

/** Normalised coordinate -> pixel coordinate (centres at integers), inverse of pixelToNorm. */
export function normToPixel(u, size) {
  return ((u + 1) * size - 1) / 2;
}

/** Bilinear read of a grayscale image at pixel coordinates (px, py); outside pixels count as 0 (eq. 5). */
export function bilinearAt(src, width, height, px, py) {
  const x0 = Math.floor(px);
  const y0 = Math.floor(py);
  const fx = px - x0;
  const fy = py - y0;
  let value = 0;
  for (let dy = 0; dy <= 1; dy++) {
    const y = y0 + dy;
    if (y < 0 || y >= height) continue;
    const wy = dy ? fy : 1 - fy;
    for (let dx = 0; dx <= 1; dx++) {
      const x = x0 + dx;
      if (x < 0 || x >= width) continue;
      value += src[y * width + x] * (dx ? fx : 1 - fx) * wy;
    }
  }
  return value;
}

/**
 * Warp a grayscale image: for every output pixel, sample the input where `sourceOf` says.
 * Returns a Float32Array of outHeight*outWidth values on the input's scale (0..255 for uint8).
 */
export function warpGray(src, width, height, outWidth, outHeight, sourceOf) {
  const out = new Float32Array(outWidth * outHeight);
  for (let i = 0; i < outHeight; i++) {
    const yt = pixelToNorm(i, outHeight);
    for (let j = 0; j < outWidth; j++) {
      const [xs, ys] = sourceOf(pixelToNorm(j, outWidth), yt);
      out[i * outWidth + j] = bilinearAt(src, width, height, normToPixel(xs, width), normToPixel(ys, height));
    }
  }
  return out;
}

/** sourceOf for θ = [[a, b, c], [d, e, f]] (target -> source, the paper's eq. 1). */
export function affineSource(theta) {
  const [[a, b, c], [d, e, f]] = theta;
  return (x, y) => [a * x + b * y + c, d * x + e * y + f];
}

/** sourceOf for a 3x3 homography (target -> source); tiny denominators keep their sign. */
export function projectiveSource(h, eps = 1e-6) {
  return (x, y) => {
    let w = h[2][0] * x + h[2][1] * y + h[2][2];
    if (Math.abs(w) < eps) w = w < 0 ? -eps : eps;
    return [(h[0][0] * x + h[0][1] * y + h[0][2]) / w, (h[1][0] * x + h[1][1] * y + h[1][2]) / w];
  };
}

/** The sampling grid T(G): source points of every `step`-th output pixel centre, rows of [xs, ys]. */
export function samplingGrid(outWidth, outHeight, sourceOf, step = 1) {
  const rows = [];
  const pick = (n) => {
    const idx = [];
    for (let k = 0; k < n; k += step) idx.push(k);
    if (idx[idx.length - 1] !== n - 1) idx.push(n - 1);
    return idx;
  };
  for (const i of pick(outHeight)) {
    const yt = pixelToNorm(i, outHeight);
    rows.push(pick(outWidth).map((j) => sourceOf(pixelToNorm(j, outWidth), yt)));
  }
  return rows;
}

/** Bytes from a widget trait (DataView, ArrayBuffer or typed array) as a Uint8Array. */
export function toUint8(value) {
  if (value instanceof Uint8Array) return value;
  if (value instanceof DataView || ArrayBuffer.isView(value)) {
    return new Uint8Array(value.buffer, value.byteOffset, value.byteLength);
  }
  if (value instanceof ArrayBuffer) return new Uint8Array(value);
  return new Uint8Array(0);
}

/** Put grayscale values (0..255, rounded by the canvas) into a canvas of the same size. */
export function putGray(canvas, values, width, height) {
  canvas.width = width;
  canvas.height = height;
  const ctx = canvas.getContext("2d");
  const img = ctx.createImageData(width, height);
  for (let k = 0; k < width * height; k++) {
    const v = values[k];
    img.data[4 * k] = v;
    img.data[4 * k + 1] = v;
    img.data[4 * k + 2] = v;
    img.data[4 * k + 3] = 255;
  }
  ctx.putImageData(img, 0, 0);
}

/**
 * Draw the input image enlarged, with a margin, and the sampling grid over it.
 * `view` = {width, height, zoom, margin}: image size in pixels, screen pixels per image
 * pixel, margin in normalised units around [-1, 1]. Returns a function mapping normalised
 * (x, y) to canvas coordinates, for widgets that draw handles on top.
 */
export function drawGridOverlay(canvas, src, view, grid, options = {}) {
  const { width, height, zoom, margin } = view;
  const boxW = width * zoom;
  const boxH = height * zoom;
  const padX = (margin * boxW) / 2;
  const padY = (margin * boxH) / 2;
  canvas.width = Math.round(boxW + 2 * padX);
  canvas.height = Math.round(boxH + 2 * padY);
  const ctx = canvas.getContext("2d");
  ctx.fillStyle = options.background || "#3b3b46";
  ctx.fillRect(0, 0, canvas.width, canvas.height);
  const plain = document.createElement("canvas");
  putGray(plain, src, width, height);
  ctx.imageSmoothingEnabled = false;
  ctx.drawImage(plain, padX, padY, boxW, boxH);
  ctx.strokeStyle = "rgba(255,255,255,0.35)";
  ctx.strokeRect(padX + 0.5, padY + 0.5, boxW - 1, boxH - 1);
  const toCanvas = (x, y) => [padX + ((x + 1) / 2) * boxW, padY + ((y + 1) / 2) * boxH];

  ctx.lineWidth = 1;
  ctx.strokeStyle = options.lineColor || "rgba(255, 170, 40, 0.75)";
  const line = (pts) => {
    ctx.beginPath();
    pts.forEach(([x, y], k) => {
      const [cx, cy] = toCanvas(x, y);
      if (k === 0) ctx.moveTo(cx, cy);
      else ctx.lineTo(cx, cy);
    });
    ctx.stroke();
  };
  grid.forEach((row) => line(row));
  for (let j = 0; j < grid[0].length; j++) line(grid.map((row) => row[j]));
  ctx.fillStyle = options.pointColor || "rgba(255, 210, 80, 0.95)";
  for (const row of grid) {
    for (const [x, y] of row) {
      const [cx, cy] = toCanvas(x, y);
      ctx.fillRect(cx - 1.5, cy - 1.5, 3, 3);
    }
  }
  if (options.frame) {
    // the output image's outer edge, mapped into the input
    ctx.strokeStyle = options.frameColor || "#35c3ff";
    ctx.lineWidth = 2;
    line(options.frame);
  }
  return toCanvas;
}

/** The output frame (corners at ±1, i.e. the outer pixel edges) mapped by sourceOf, closed. */
export function frameOutline(sourceOf, steps = 16) {
  const pts = [];
  const edge = (x0, y0, x1, y1) => {
    for (let k = 0; k < steps; k++) {
      const t = k / steps;
      pts.push(sourceOf(x0 + (x1 - x0) * t, y0 + (y1 - y0) * t));
    }
  };
  edge(-1, -1, 1, -1);
  edge(1, -1, 1, 1);
  edge(1, 1, -1, 1);
  edge(-1, 1, -1, -1);
  pts.push(pts[0]);
  return pts;
}
