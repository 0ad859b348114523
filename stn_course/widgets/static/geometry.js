// θ from interpretable parameters and back: the same composition as
// stn_course.geometry.theta_from / decompose_theta,
//   A = D⁻¹ · R(angle) · Shear(shear) · Scale(sx, sy) · D,   D = diag(aspect, 1),
// so that rotation and shear act in pixel space on a non-square image.

/** θ = [[a00, a01, tx], [a10, a11, ty]] from angle (radians), scales, shear, translation. */
export function thetaFrom({ angle = 0, scaleX = 1, scaleY = 1, shear = 0, tx = 0, ty = 0 }, aspect = 1) {
  const c = Math.cos(angle);
  const s = Math.sin(angle);
  const a00 = c * scaleX;
  const a01 = ((c * shear - s) * scaleY) / aspect;
  const a10 = s * scaleX * aspect;
  const a11 = (s * shear + c) * scaleY;
  return [
    [a00, a01, tx],
    [a10, a11, ty],
  ];
}

/** Inverse of thetaFrom (a QR factorisation A = R · U), as in decompose_theta. */
export function decomposeTheta(theta, aspect = 1) {
  const a00 = theta[0][0];
  const a01 = theta[0][1] * aspect;
  const a10 = theta[1][0] / aspect;
  const a11 = theta[1][1];
  const scaleX = Math.hypot(a00, a10);
  const angle = Math.atan2(a10, a00);
  const c = Math.cos(angle);
  const s = Math.sin(angle);
  const u01 = c * a01 + s * a11;
  const scaleY = -s * a01 + c * a11;
  return { angle, scaleX, scaleY, shear: scaleY === 0 ? 0 : u01 / scaleY, tx: theta[0][2], ty: theta[1][2] };
}
