// The raw piscina baseline task of bench/runtime.bench.js: does nothing.
export default () => 0;
