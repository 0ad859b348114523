// Table 1's P and TC recipes for one digit, in the page, with given parameters: P moves the
// frame's four corners and warps the digit by the homography they fix (as
// stn_course.distortions.projective); TC pastes the digit at a whole-pixel place on a 60 x 60
// canvas with 6 x 6 pieces of other digits, combined by maximum (as distortions.cluttered), the
// pieces drawn from a seed by xorshift32, as stn_course.clutter_seed draws them.
import { homographyFromPoints } from "./linalg.js";
import { projectiveSource, warpGray } from "./warp.js";

/** MNIST's side, in pixels. */
export const DIGIT = 28;
/** The frame's corners top-left, top-right, bottom-right, bottom-left, in normalised units. */
export const CORNERS = [[-1, -1], [1, -1], [1, 1], [-1, 1]];

/** Where P puts the corners: scale · (±14, ±14) + shifts[k], pixels from the centre (x right, y down). */
export function cornerPositions(scale, shifts) {
  return CORNERS.map(([x, y], k) => [scale * x * (DIGIT / 2) + shifts[k][0], scale * y * (DIGIT / 2) + shifts[k][1]]);
}

/** True when the four corners make a convex quadrilateral in the frame's order (clockwise on screen). */
export function isConvex(corners) {
  return corners.every((p, k) => {
    const [q, r] = [corners[(k + 1) % 4], corners[(k + 2) % 4]];
    return (q[0] - p[0]) * (r[1] - q[1]) - (q[1] - p[1]) * (r[0] - q[0]) > 0;
  });
}

/** The homography (target -> source, normalised) that sends the moved corners back to the frame's. */
export function cornerHomography(scale, shifts) {
  const target = cornerPositions(scale, shifts).map(([x, y]) => [(2 * x) / DIGIT, (2 * y) / DIGIT]);
  return homographyFromPoints(target, CORNERS);
}

/** P's canvas: the digit (uint8, 28 x 28) warped by cornerHomography, bilinear, in [0, 1]. */
export function projectiveCanvas(digit, scale, shifts) {
  const source = Float32Array.from(digit, (v) => v / 255);
  const out = warpGray(source, DIGIT, DIGIT, DIGIT, DIGIT, projectiveSource(cornerHomography(scale, shifts)));
  for (let k = 0; k < out.length; k++) out[k] = Math.min(1, Math.max(0, out[k]));
  return out;
}

/** A xorshift32 generator seeded as stn_course.clutter_seed.Xorshift32: returns () => a uint32. */
export function xorshift32(seed) {
  let x = (Math.imul(seed >>> 0, 0x9e3779b1) + 0x6d2b79f5) >>> 0 || 1;
  const next = () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x;
  };
  for (let k = 0; k < 4; k++) next();
  return next;
}

/**
 * TC's pieces for one digit, drawn from `seed` in clutter_layout's order: per piece the pool
 * digit (never `own`; any when own is -1), the crop's top-left in the central box, its place.
 * Returns [{index, crop: [x, y], at: [x, y]}, ...].
 */
export function clutterLayout(seed, pieces, poolSize, own, { out = 60, size = 6, box = [4, 24] } = {}) {
  const next = xorshift32(seed);
  const integer = (lo, hi) => lo + Math.floor((next() * (hi - lo + 1)) / 4294967296);
  const layout = [];
  for (let k = 0; k < pieces; k++) {
    const index = own >= 0 ? (own + integer(1, poolSize - 1)) % poolSize : integer(0, poolSize - 1);
    const crop = [integer(box[0], box[1] - size), integer(box[0], box[1] - size)];
    const at = [integer(0, out - size), integer(0, out - size)];
    layout.push({ index, crop, at });
  }
  return layout;
}

/**
 * TC's canvas (Float32Array of out x out in [0, 1]): the pieces of `layout`, cut from `pool`
 * (uint8, K digits of 28 x 28), then the digit with its top-left at the centre's place shifted by
 * (tx, ty) whole pixels, every pixel the maximum of what lands on it.
 */
export function clutterCanvas(digit, tx, ty, pool, layout, { out = 60, size = 6 } = {}) {
  const canvas = new Float32Array(out * out);
  const paste = (src, srcX, srcY, w, h, atX, atY) => {
    for (let i = 0; i < h; i++) {
      for (let j = 0; j < w; j++) {
        const v = src[(srcY + i) * DIGIT + srcX + j] / 255;
        const k = (atY + i) * out + atX + j;
        if (v > canvas[k]) canvas[k] = v;
      }
    }
  };
  for (const { index, crop, at } of layout) {
    paste(pool.subarray(index * DIGIT * DIGIT, (index + 1) * DIGIT * DIGIT), crop[0], crop[1], size, size, at[0], at[1]);
  }
  const room = (out - DIGIT) / 2;
  paste(digit, 0, 0, DIGIT, DIGIT, room + tx, room + ty);
  return canvas;
}
