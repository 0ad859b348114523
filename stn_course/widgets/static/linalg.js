// Small dense linear algebra for the projective and TPS widgets (a few unknowns at most).

/**
 * Solve A x = b by Gaussian elimination with partial pivoting. `A` is an array of n rows of
 * n numbers, `b` an array of n numbers or of n rows of m numbers (m right-hand sides at once).
 * Returns x with the shape of b. Throws on a (numerically) singular matrix.
 */
export function solveLinear(A, b) {
  const n = A.length;
  const multi = Array.isArray(b[0]);
  const m = multi ? b[0].length : 1;
  const M = A.map((row, i) => [...row, ...(multi ? b[i] : [b[i]])]);
  for (let col = 0; col < n; col++) {
    let pivot = col;
    for (let r = col + 1; r < n; r++) if (Math.abs(M[r][col]) > Math.abs(M[pivot][col])) pivot = r;
    if (Math.abs(M[pivot][col]) < 1e-12) throw new Error("solveLinear: singular matrix");
    [M[col], M[pivot]] = [M[pivot], M[col]];
    for (let r = 0; r < n; r++) {
      if (r === col) continue;
      const f = M[r][col] / M[col][col];
      if (f === 0) continue;
      for (let c = col; c < n + m; c++) M[r][c] -= f * M[col][c];
    }
  }
  const x = M.map((row, i) => row.slice(n).map((v) => v / M[i][i]));
  return multi ? x : x.map((row) => row[0]);
}

/** The homography (3x3, bottom-right entry 1) sending the 4 points `from` to the 4 points `to`. */
export function homographyFromPoints(from, to) {
  const A = [];
  const b = [];
  for (let k = 0; k < 4; k++) {
    const [x, y] = from[k];
    const [u, v] = to[k];
    A.push([x, y, 1, 0, 0, 0, -u * x, -u * y]);
    b.push(u);
    A.push([0, 0, 0, x, y, 1, -v * x, -v * y]);
    b.push(v);
  }
  const h = solveLinear(A, b);
  return [
    [h[0], h[1], h[2]],
    [h[3], h[4], h[5]],
    [h[6], h[7], 1],
  ];
}

/** The thin-plate radial basis U = r² log r², written in terms of r² (U(0) = 0), as stn_course.grid.tps_kernel. */
export function tpsKernel(r2) {
  return r2 > 0 ? r2 * Math.log(r2) : 0;
}

/** K control points on a regular √K × √K grid spanning [-1, 1]², row by row, as stn_course.grid.tps_control_points. */
export function tpsControlPoints(k) {
  const side = Math.round(Math.sqrt(k));
  const pts = [];
  for (let i = 0; i < side; i++) {
    for (let j = 0; j < side; j++) {
      pts.push([-1 + (2 * j) / (side - 1), -1 + (2 * i) / (side - 1)]);
    }
  }
  return pts;
}

/**
 * sourceOf for a thin-plate spline (stn_course.grid.tps_grid): the output point p samples the
 * input at p + f(p), where f moves control point ctrl[k] by offsets[k] and minimises bending.
 */
export function tpsSource(ctrl, offsets) {
  const k = ctrl.length;
  const L = [];
  for (let i = 0; i < k; i++) {
    const row = ctrl.map((c) => tpsKernel((ctrl[i][0] - c[0]) ** 2 + (ctrl[i][1] - c[1]) ** 2));
    L.push([...row, 1, ctrl[i][0], ctrl[i][1]]);
  }
  L.push([...ctrl.map(() => 1), 0, 0, 0]);
  L.push([...ctrl.map((c) => c[0]), 0, 0, 0]);
  L.push([...ctrl.map((c) => c[1]), 0, 0, 0]);
  const rhs = [...offsets.map((o) => [o[0], o[1]]), [0, 0], [0, 0], [0, 0]];
  const coef = solveLinear(L, rhs); // (K+3) rows of [cx, cy]: w_1..w_K, a_0, a_x, a_y
  return (x, y) => {
    let fx = coef[k][0] + coef[k + 1][0] * x + coef[k + 2][0] * y;
    let fy = coef[k][1] + coef[k + 1][1] * x + coef[k + 2][1] * y;
    for (let i = 0; i < k; i++) {
      const u = tpsKernel((x - ctrl[i][0]) ** 2 + (y - ctrl[i][1]) ** 2);
      fx += coef[i][0] * u;
      fy += coef[i][1] * u;
    }
    return [x + fx, y + fy];
  };
}
