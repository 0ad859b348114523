// Small DOM helpers shared by the course's widgets.

/** `v` with `digits` decimals, never "-0.00": a value that rounds to zero shows unsigned. */
export function fixed(v, digits) {
  const text = v.toFixed(digits);
  return /^-0\.?0*$/.test(text) ? text.slice(1) : text;
}

/** An element with a class and optional text. */
export function element(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

/** A canvas with a caption under it. */
export function figure(caption, canvas) {
  const fig = element("figure", "stn-figure");
  fig.append(canvas, element("figcaption", "", caption));
  return fig;
}

/** The two pictures every explorer shows side by side: the output V and the input U. */
export function outputAndInput(outputCaption, inputCaption) {
  const output = element("canvas", "stn-output");
  const input = element("canvas", "stn-input");
  const figures = element("div", "stn-figures");
  figures.append(figure(outputCaption, output), figure(inputCaption, input));
  return { figures, output, input };
}

/**
 * A labelled range slider with a live number readout.
 * Returns {row, input, set(value)}; `set` moves the slider (clamped to its range) and shows
 * the exact value in the readout without firing `onInput`.
 */
export function sliderRow({ label, name, min, max, step, value, format = (v) => fixed(v, 2), onInput }) {
  const row = element("label", "stn-slider");
  const caption = element("span", "stn-slider-label");
  caption.innerHTML = label;
  const input = element("input");
  Object.assign(input, { type: "range", min: String(min), max: String(max), step: String(step) });
  input.dataset.param = name;
  const readout = element("span", "stn-slider-value");
  const set = (v) => {
    input.value = String(Math.min(max, Math.max(min, v)));
    readout.textContent = format(v);
  };
  set(value);
  input.addEventListener("input", () => {
    const v = Number(input.value);
    readout.textContent = format(v);
    onInput(v);
  });
  row.append(caption, input, readout);
  return { row, input, set };
}

/** Send the model's changes to the kernel; on the static page there is none, and nothing happens. */
export function saveChanges(model) {
  try {
    model.save_changes();
  } catch (err) {
    /* no comm: the static book */
  }
}
