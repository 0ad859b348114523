// Maths of the 3D θ explorer, the same as stn_course.geometry (theta3d_from, decompose_theta3d),
// stn_course.grid / sampler (3D affine grid, trilinear, zero padding, align_corners=False) and
// stn_course.transformer3d.project (the sum along depth), in plain JS so that the widget redraws
// in a static page with no Python kernel behind it.
import { normToPixel, pixelToNorm } from "./warp.js";

/** R = R_y(yaw) · R_x(pitch) · R_z(roll), as stn_course.geometry.rotation_3d (x right, y down, z depth). */
export function rotation3d(yaw, pitch, roll) {
  const [ca, sa, cb, sb, cc, sc] = [Math.cos(yaw), Math.sin(yaw), Math.cos(pitch), Math.sin(pitch), Math.cos(roll), Math.sin(roll)];
  return [
    [ca * cc + sa * sb * sc, -ca * sc + sa * sb * cc, sa * cb],
    [cb * sc, cb * cc, -sb],
    [-sa * cc + ca * sb * sc, sa * sc + ca * sb * cc, ca * cb],
  ];
}

/** θ (3x4) = [scale · R | t], as stn_course.geometry.theta3d_from. */
export function theta3dFrom({ yaw = 0, pitch = 0, roll = 0, scale = 1, tx = 0, ty = 0, tz = 0 }) {
  const r = rotation3d(yaw, pitch, roll);
  const t = [tx, ty, tz];
  return r.map((row, i) => [...row.map((v) => scale * v), t[i]]);
}

function det3(a) {
  return (
    a[0][0] * (a[1][1] * a[2][2] - a[1][2] * a[2][1]) -
    a[0][1] * (a[1][0] * a[2][2] - a[1][2] * a[2][0]) +
    a[0][2] * (a[1][0] * a[2][1] - a[1][1] * a[2][0])
  );
}

/**
 * Inverse of theta3dFrom: {yaw, pitch, roll, scale, tx, ty, tz}. Exact for θ = [scale · R | t]
 * (what the sliders make); for another θ the angles are read from A / det(A)^(1/3).
 */
export function decomposeTheta3d(theta) {
  const a = theta.map((row) => row.slice(0, 3));
  const det = det3(a);
  const scale = Math.cbrt(det);
  const r = a.map((row) => row.map((v) => (scale > 0 ? v / scale : v)));
  const s12 = Math.max(-1, Math.min(1, -r[1][2]));
  const pitch = Math.asin(s12);
  let yaw;
  let roll;
  if (Math.abs(r[1][2]) > 1 - 1e-9) {
    yaw = 0;
    roll = Math.atan2(-r[0][1], r[0][0]);
  } else {
    yaw = Math.atan2(r[0][2], r[2][2]);
    roll = Math.atan2(r[1][0], r[1][1]);
  }
  return { yaw, pitch, roll, scale, tx: theta[0][3], ty: theta[1][3], tz: theta[2][3] };
}

/** Trilinear read of a volume (depth, height, width; row-major z, y, x) at pixel coordinates; outside voxels count as 0. */
export function trilinearAt(vol, depth, height, width, px, py, pz) {
  const x0 = Math.floor(px);
  const y0 = Math.floor(py);
  const z0 = Math.floor(pz);
  const fx = px - x0;
  const fy = py - y0;
  const fz = pz - z0;
  let value = 0;
  for (let dz = 0; dz <= 1; dz++) {
    const z = z0 + dz;
    if (z < 0 || z >= depth) continue;
    const wz = dz ? fz : 1 - fz;
    for (let dy = 0; dy <= 1; dy++) {
      const y = y0 + dy;
      if (y < 0 || y >= height) continue;
      const wy = dy ? fy : 1 - fy;
      const base = (z * height + y) * width;
      for (let dx = 0; dx <= 1; dx++) {
        const x = x0 + dx;
        if (x < 0 || x >= width) continue;
        value += vol[base + x] * (dx ? fx : 1 - fx) * wy * wz;
      }
    }
  }
  return value;
}

/**
 * Warp a volume with θ (output the size of the input) and sum it along depth: the projection
 * I(y, x) = Σ_z V(z, y, x) as a Float64Array of height*width values, on the volume's scale.
 */
export function projectWarped(vol, depth, height, width, theta) {
  const out = new Float64Array(height * width);
  const [[a, b, c, d], [e, f, g, h], [i, j, k, l]] = theta;
  for (let yi = 0; yi < height; yi++) {
    const yt = pixelToNorm(yi, height);
    for (let xi = 0; xi < width; xi++) {
      const xt = pixelToNorm(xi, width);
      let sum = 0;
      for (let zi = 0; zi < depth; zi++) {
        const zt = pixelToNorm(zi, depth);
        const xs = a * xt + b * yt + c * zt + d;
        const ys = e * xt + f * yt + g * zt + h;
        const zs = i * xt + j * yt + k * zt + l;
        sum += trilinearAt(vol, depth, height, width, normToPixel(xs, width), normToPixel(ys, height), normToPixel(zs, depth));
      }
      out[yi * width + xi] = sum;
    }
  }
  return out;
}

/** The 8 corners (±1, ±1, ±1) of the output box mapped by θ into the input, and the 12 edges joining them. */
export function samplingBox(theta) {
  const corners = [];
  for (const z of [-1, 1]) for (const y of [-1, 1]) for (const x of [-1, 1]) {
    corners.push(theta.map((row) => row[0] * x + row[1] * y + row[2] * z + row[3]));
  }
  const edges = [];
  for (let p = 0; p < 8; p++) for (const bit of [1, 2, 4]) if (!(p & bit)) edges.push([p, p | bit]);
  return { corners, edges };
}

/** An oblique view: (x, y, z) -> [u, v] on screen, turned by `azimuth` about y, then tipped by `elevation` about x. */
export function obliqueView(azimuth, elevation) {
  const [ca, sa, ce, se] = [Math.cos(azimuth), Math.sin(azimuth), Math.cos(elevation), Math.sin(elevation)];
  return ([x, y, z]) => {
    const x1 = ca * x + sa * z;
    const z1 = -sa * x + ca * z;
    return [x1, ce * y - se * z1, se * y + ce * z1]; // screen u, v and the depth (for ordering)
  };
}
