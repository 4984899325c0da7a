// The reference implementation of needmap's ONNX contract outside Python: raw rows to the graph's inputs,
// and the graph's outputs to scores, as `needmap predict` gives them.
//
// `needmap export MODEL --format onnx --out DIR` writes DIR/model.onnx, DIR/contract.json and this file.
// Plain JavaScript (Node.js 18 or later, or a browser), no dependencies:
//
//   import { encode, scores } from "./contract.mjs";
//   const contract = JSON.parse(fs.readFileSync("contract.json", "utf8"));
//   const inputs = encode(contract, rows);                 // rows: [{column: value, ...}, ...]
//   // with onnxruntime-node: feeds[name] = new ort.Tensor(input.type, input.data, input.dims)
//   const { outputs } = await session.run(feeds);
//   const columns = scores(contract, outputs.data, rows.length);   // {score: [...]} and so on
//
// A row is an object of JSON values: numbers, true/false, text, null, and arrays (or text split at the
// column's separator) for list columns. Each value is read as needmap reads it in a file or a Python dict
// (docs/commands/export.md): text that is a number is that number, "", "NA", "null", "none", "nan" are
// missing, a category column trained on numbers reads "7.0" as 7 and on booleans reads "FALSE" and 0 as
// false. Numbers in a numeric column that are not numbers (text) are missing here and counted in
// `inputs.report`; needmap stops instead when more than its max_unparseable share of a column is such text.
//
// `node contract.mjs encode contract.json rows.json` and `node contract.mjs scores contract.json
// outputs.json` print the same as JSON (the checks of needmap's tests).

const OOV = 0;
const MISSING = 1;
const RESERVED = 2;
const LIST_OOV = 1;
const MISSING_TOKENS = new Set(["", "na", "n/a", "nan", "null", "none"]);
const NUMBER = /^[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?$/;
const INTEGER = /^[+-]?[0-9]+$/;
const LEADING_ZERO = /^\s*[+-]?0[0-9]+\s*$/;
const WHOLE_FLOAT_LIMIT = 2 ** 63;
const BOOLEAN_NAMES = { true: "true", 1: "true", false: "false", 0: "false" };
const LOGIT_EPS = 1e-9;
const SIGMA_FLOOR = 1e-3;
const MAX_EXPONENT = 60.0;
const LTV_COLUMNS = ["expected_spend", "buy_probability", "spend_if_bought"];

/** A numeric column's value as a number: NaN when missing or not a number ({value, unparseable}). */
function readNumber(value) {
  if (value === null || value === undefined) return { value: NaN, unparseable: false };
  if (typeof value === "boolean") return { value: value ? 1 : 0, unparseable: false };
  if (typeof value === "number") {
    return Number.isFinite(value) || Number.isNaN(value)
      ? { value, unparseable: false }
      : { value: NaN, unparseable: true };
  }
  const text = String(value).trim();
  if (MISSING_TOKENS.has(text.toLowerCase())) return { value: NaN, unparseable: false };
  if (NUMBER.test(text)) {
    const number = Number(text);
    if (Number.isFinite(number)) return { value: number, unparseable: false };
  }
  return { value: NaN, unparseable: true };
}

/** A number's category name: whole numbers by their digits, others as Arrow names floats. */
function numberName(x) {
  if (Number.isNaN(x)) return null;
  if (!Number.isFinite(x)) return x > 0 ? "inf" : "-inf";
  if (Number.isInteger(x) && Math.abs(x) < WHOLE_FLOAT_LIMIT) return BigInt(x).toString();
  if (Math.abs(x) >= 1e15) return x.toExponential();
  return String(x);
}

/** A value's category string (null = missing), as needmap names categories. */
function categoryName(value) {
  if (value === null || value === undefined) return null;
  if (typeof value === "boolean") return value ? "true" : "false";
  if (typeof value === "number") return numberName(value);
  const text = String(value);
  return text.trim() === "" ? null : text;
}

/** How a column read as Arrow type `dtype` in training names its categories. */
function trainedKind(dtype) {
  if (dtype === "bool") return "boolean";
  if (/^(int|uint|float|double|halffloat|decimal)/.test(dtype || "")) return "number";
  return "text";
}

/** A category string named as a column of `kind` names it (text given for a number or boolean column). */
function asTrained(value, name, kind) {
  if (kind === "boolean" && typeof value !== "boolean") {
    return BOOLEAN_NAMES[name.trim().toLowerCase()] ?? name;
  }
  if (kind !== "number" || typeof value !== "string") return name;
  const text = name.trim();
  if (!NUMBER.test(text) || LEADING_ZERO.test(text)) return name;
  if (INTEGER.test(text)) return BigInt(text.replace(/^\+/, "")).toString();
  return numberName(Number(text));
}

/** 64-bit FNV-1a of a string's UTF-8 bytes, as a BigInt. */
function fnv1a64(text) {
  let hash = 0xcbf29ce484222325n;
  for (const byte of new TextEncoder().encode(text)) {
    hash ^= BigInt(byte);
    hash = (hash * 0x100000001b3n) & 0xffffffffffffffffn;
  }
  return hash;
}

/** Index of the first element of sorted `values` greater than `x` (numpy's searchsorted, side right). */
function countAtMost(values, x) {
  let low = 0;
  let high = values.length;
  while (low < high) {
    const mid = (low + high) >> 1;
    if (values[mid] <= x) low = mid + 1;
    else high = mid;
  }
  return low;
}

/** numpy.interp: piecewise linear through (xs, ys), constant beyond the ends. */
function interp(x, xs, ys) {
  const n = xs.length;
  if (x <= xs[0]) return ys[0];
  if (x >= xs[n - 1]) return ys[n - 1];
  const j = countAtMost(xs, x) - 1;
  if (xs[j + 1] === xs[j]) return ys[j + 1];
  return ys[j] + ((ys[j + 1] - ys[j]) * (x - xs[j])) / (xs[j + 1] - xs[j]);
}

/** A scaled numeric value: clipped to the training bounds, imputed, scaled. */
function scaled(column, raw) {
  let x = raw;
  if (!Number.isNaN(x) && column.clip_low !== null && column.clip_high !== null) {
    x = Math.min(Math.max(x, column.clip_low), column.clip_high);
  }
  if (Number.isNaN(x)) x = column.impute_value;
  if (column.scaling === "standard") {
    const out = (x - column.center) / column.scale;
    return Number.isFinite(out) || !Number.isFinite(x)
      ? out
      : (x * 0.5 - column.center * 0.5) / (column.scale * 0.5);
  }
  if (column.scaling === "log1p") {
    const signed = x === 0 ? 0 : Math.sign(x) * Math.log1p(Math.abs(x));
    return (signed - column.center) / column.scale;
  }
  if (column.scaling === "quantile") {
    const q = column.quantiles;
    const levels = q.map((_, k) => (q.length === 1 ? 0 : k / (q.length - 1)));
    const up = interp(x, q, levels);
    const down = -interp(-x, [...q].reverse().map((v) => -v), [...levels].reverse().map((v) => -v));
    return 0.5 * (up + down);
  }
  return x;
}

/** Per categorical encoder: a function from a row's value to its id. */
function categoricalEncoder(encoder, kind) {
  if (encoder.kind === "buckets") {
    return (value) => {
      const x = readNumber(value).value;
      return Number.isNaN(x) ? MISSING : RESERVED + countAtMost(encoder.edges, x);
    };
  }
  if (encoder.kind === "values") {
    const ids = new Map(encoder.values.map((v, k) => [v, k + RESERVED]));
    return (value) => {
      const x = readNumber(value).value;
      return Number.isNaN(x) ? MISSING : (ids.get(x) ?? OOV);
    };
  }
  if (encoder.kind === "hashed") {
    const buckets = BigInt(encoder.buckets);
    return (value) => {
      const name = categoryName(value);
      if (name === null) return MISSING;
      return RESERVED + Number(fnv1a64(asTrained(value, name, kind)) % buckets);
    };
  }
  const ids = new Map(encoder.values.map((v, k) => [v, k + RESERVED]));
  return (value) => {
    const name = categoryName(value);
    if (name === null) return MISSING;
    const named = asTrained(value, name, kind);
    const found = ids.get(named) ?? OOV;
    return found === OOV && MISSING_TOKENS.has(named.trim().toLowerCase()) ? MISSING : found;
  };
}

/** A list cell's tokens (null = a missing list): arrays as they are, text split at the separator. */
function listTokens(value, separator) {
  if (value === null || value === undefined) return null;
  const items = Array.isArray(value) ? value : String(value).split(separator);
  const tokens = [];
  for (const item of items) {
    const name = typeof item === "string" ? item : categoryName(item);
    if (name === null) continue;
    const trimmed = name.trim();
    if (trimmed !== "") tokens.push(trimmed);
  }
  return tokens;
}

/** Per list column: a function from a row's cell to its max_len ids (left-aligned, 0-padded). */
function listEncoder(column, shared) {
  const own = new Map(column.values.map((v, k) => [v, k + RESERVED]));
  const id = (token) => {
    if (shared && shared.kind === "hashed") {
      return RESERVED + Number(fnv1a64(token) % BigInt(shared.buckets));
    }
    const found = (shared ? shared.ids : own).get(token) ?? OOV;
    return found === OOV ? LIST_OOV : found;
  };
  return (value) => {
    const out = new Array(column.max_len).fill(0);
    const tokens = listTokens(value, column.separator);
    if (tokens === null) return out;
    const kept = column.kind === "sequence" ? tokens.slice(-column.max_len) : tokens.slice(0, column.max_len);
    kept.forEach((token, k) => {
      out[k] = id(token);
    });
    return out;
  };
}

/**
 * The graph's inputs of `rows` (an array of objects): {numeric, categorical, list_<column>...}, each
 * {type: "float32" | "int64", dims: [n, width], data: Float32Array | BigInt64Array}, and `report`: per
 * numeric column, the rows whose value was text that is not a number (read as missing).
 */
export function encode(contract, rows) {
  const prep = contract.preprocessor;
  const dtypes = Object.fromEntries(prep.schema.columns.map((c) => [c.name, c.dtype]));
  const numeric = prep.numeric;
  const indicators = numeric.filter((c) => c.indicator);
  const flags = numeric.filter((c) => c.zero_flag);
  const width = numeric.length + indicators.length + flags.length;
  const n = rows.length;
  const numbers = new Float32Array(n * width);
  const categorical = prep.categorical;
  const ids = new BigInt64Array(n * categorical.length);
  const encoders = categorical.map((e) => categoricalEncoder(e, trainedKind(dtypes[e.name])));
  const sharedOf = (name) => {
    const e = categorical.find((c) => c.name === name);
    return e.kind === "hashed" ? e : { kind: "vocabulary", ids: new Map(e.values.map((v, k) => [v, k + RESERVED])) };
  };
  const lists = prep.lists || [];
  const listEncoders = lists.map((c) => listEncoder(c, c.vocabulary_of === null ? null : sharedOf(c.vocabulary_of)));
  const listData = lists.map((c) => new BigInt64Array(n * c.max_len));
  const unparseable = Object.fromEntries(numeric.map((c) => [c.name, 0]));
  const features = [...new Set([...numeric.map((c) => c.name), ...categorical.map((c) => c.name), ...lists.map((c) => c.name)])];
  rows.forEach((row, i) => {
    for (const name of features) {
      if (!(name in row)) throw new Error(`row ${i + 1} has no column '${name}'; expected every feature column of the model.`);
    }
    let at = i * width;
    const raws = numeric.map((c) => {
      const read = readNumber(row[c.name]);
      if (read.unparseable) unparseable[c.name] += 1;
      return read.value;
    });
    numeric.forEach((c, j) => {
      numbers[at + j] = scaled(c, raws[j]);
    });
    at += numeric.length;
    numeric.forEach((c, j) => {
      if (c.indicator) numbers[at++] = Number.isNaN(raws[j]) ? 1 : 0;
    });
    numeric.forEach((c, j) => {
      if (c.zero_flag) numbers[at++] = raws[j] === 0 ? 1 : 0;
    });
    encoders.forEach((encode1, j) => {
      ids[i * categorical.length + j] = BigInt(encode1(row[categorical[j].name]));
    });
    lists.forEach((c, k) => {
      listEncoders[k](row[c.name]).forEach((v, p) => {
        listData[k][i * c.max_len + p] = BigInt(v);
      });
    });
  });
  const inputs = {
    numeric: { type: "float32", dims: [n, width], data: numbers },
    categorical: { type: "int64", dims: [n, categorical.length], data: ids },
  };
  lists.forEach((c, k) => {
    inputs[`list_${c.name}`] = { type: "int64", dims: [n, c.max_len], data: listData[k] };
  });
  return { inputs, report: { rows: n, unparseable } };
}

const sigmoid = (z) => 1 / (1 + Math.exp(-z));
const softplus = (z) => Math.max(z, 0) + Math.log1p(Math.exp(-Math.abs(z)));

function calibrated(calibrator, p) {
  if (!calibrator) return p;
  const prob = Math.min(Math.max(p, 0), 1);
  if (calibrator.method === "isotonic") return interp(prob, calibrator.x, calibrator.y);
  const q = Math.min(Math.max(prob, LOGIT_EPS), 1 - LOGIT_EPS);
  return sigmoid(calibrator.slope * (Math.log(q) - Math.log1p(-q)) + calibrator.intercept);
}

/** One head's scores of its raw outputs `raw` (an array of its outputs): an array of values. */
function headScores(head, raw, scaling) {
  if (head.task === "binary") {
    const shift = scaling && scaling.pos_weight ? Math.log(scaling.pos_weight) : 0;
    return [1 / (1 + Math.exp(-(raw[0] - shift)))];
  }
  if (head.task === "multiclass") {
    const weights = (scaling && scaling.class_weights) || [];
    const z = raw.map((v, k) => v - (k < weights.length && weights[k] > 0 ? Math.log(weights[k]) : 0));
    const top = Math.max(...z);
    const e = z.map((v) => Math.exp(v - top));
    const sum = e.reduce((a, b) => a + b, 0);
    return e.map((v) => v / sum);
  }
  if (head.task === "ltv") {
    const p = 1 / (1 + Math.exp(-(raw[0] + ((scaling && scaling.logit_offset) || 0))));
    const mu = raw[1] + ((scaling && scaling.mu_offset) || 0);
    const sigma = softplus(raw[2]) + SIGMA_FLOOR;
    const ifBought = Math.exp(Math.min(mu + 0.5 * sigma * sigma, MAX_EXPONENT));
    return [p * ifBought, p, ifBought];
  }
  const pair = scaling || { mean: 0, std: 1 };
  return [raw[0] * pair.std + pair.mean];
}

/**
 * Scores of the graph's `outputs` (n rows, a flat array of n x outputs values) as needmap predict's
 * columns: {score: [...]} for a binary target, {predicted, proba_<class>...} for a multiclass one,
 * {prediction} for a number, {expected_spend, buy_probability, spend_if_bought} for lifetime value; with
 * several targets each name ends in _<target>. The network's scores: contract.scorers says when needmap
 * predict answers with another scorer.
 */
export function scores(contract, outputs, n) {
  const heads = contract.heads;
  const width = heads.reduce((a, h) => a + h.n_outputs, 0);
  const scalings = Array.isArray(contract.target_scaling) ? contract.target_scaling : [contract.target_scaling];
  const columns = {};
  let start = 0;
  heads.forEach((head, t) => {
    const suffix = heads.length > 1 ? `_${head.name}` : "";
    const names =
      head.task === "binary" ? [`score${suffix}`]
      : head.task === "multiclass" ? head.classes.map((c) => `proba${suffix}_${c}`)
      : head.task === "ltv" ? LTV_COLUMNS.map((c) => `${c}${suffix}`)
      : [`prediction${suffix}`];
    const values = names.map(() => new Array(n));
    const chosen = new Array(n);
    for (let i = 0; i < n; i++) {
      const raw = Array.from({ length: head.n_outputs }, (_, k) => Number(outputs[i * width + start + k]));
      let out = headScores(head, raw, scalings[t] ?? null);
      if (t === 0 && head.task === "binary") out = [calibrated(contract.calibrator, out[0])];
      out.forEach((v, k) => {
        values[k][i] = v;
      });
      if (head.task === "multiclass") chosen[i] = head.classes[out.indexOf(Math.max(...out))];
    }
    if (head.task === "multiclass") columns[`predicted${suffix}`] = chosen;
    names.forEach((name, k) => {
      columns[name] = values[k];
    });
    start += head.n_outputs;
  });
  return columns;
}

async function main(argv) {
  const fs = await import("node:fs");
  const [command, contractFile, dataFile] = argv;
  if (!["encode", "scores"].includes(command) || !contractFile || !dataFile) {
    process.stderr.write("usage: node contract.mjs encode CONTRACT.json ROWS.json | scores CONTRACT.json OUTPUTS.json\n");
    process.exit(2);
  }
  const contract = JSON.parse(fs.readFileSync(contractFile, "utf8"));
  const data = JSON.parse(fs.readFileSync(dataFile, "utf8"));
  if (command === "encode") {
    const { inputs, report } = encode(contract, data);
    const plain = Object.fromEntries(
      Object.entries(inputs).map(([name, t]) => [name, { ...t, data: Array.from(t.data, Number) }]),
    );
    process.stdout.write(JSON.stringify({ inputs: plain, report }));
  } else {
    process.stdout.write(JSON.stringify(scores(contract, data.outputs.flat(), data.outputs.length)));
  }
}

if (typeof process !== "undefined" && process.argv[1] && import.meta.url === (await import("node:url")).pathToFileURL(process.argv[1]).href) {
  main(process.argv.slice(2)).catch((err) => {
    process.stderr.write(`${err.message}\n`);
    process.exit(1);
  });
}
