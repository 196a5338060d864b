// Generated from lib/backends/wasm/adam.wat by `deno task build:wasm`
// (tasks/build_wasm.ts; wabt, SIMD enabled; 436 bytes of wasm). Do not edit.

/** The WebAssembly module compiled from lib/backends/wasm/adam.wat, base64 in chunks. */
export const WASM_ADAM_BASE64: string[] = [
  "AGFzbQEAAAABEgFgDn9/f39/f319fX19fX19AAIPAQNlbnYGbWVtb3J5AgABAwIBAAcIAQRhZGFtAAAK",
  "9gIB8wIDA38LewN9IAVBAnQhECAQQXBxIQ8gBv0TIRQgB/0TIRUgCP0TIRYgCf0TIRcgCv0TIRggC/0T",
  "IRkgDP0TIRogDf0TIRsCQCAOIA9PDQADQCACIA5q/QACACERIAMgDmr9AAIAIBT95gEgESAV/eYB/eQB",
  "IRIgBCAOav0AAgAgFv3mASARIBH95gEgF/3mAf3kASETIAMgDmogEv0LAgAgBCAOaiAT/QsCACABIA5q",
  "IBIgGP3nASATIBn95wH94wEgGv3kAf3nASAb/eYBIAAgDmr9AAIA/eQB/QsCACAOQRBqIQ4gDiAPSQ0A",
  "CwsCQCAOIBBPDQADQCACIA5qKgIAIRwgAyAOaioCACAGlCAcIAeUkiEdIAQgDmoqAgAgCJQgHCAclCAJ",
  "lJIhHiADIA5qIB04AgAgBCAOaiAeOAIAIAEgDmogHSAKlSAeIAuVkSAMkpUgDZQgACAOaioCAJI4AgAg",
  "DkEEaiEOIA4gEEkNAAsLCw==",
];
