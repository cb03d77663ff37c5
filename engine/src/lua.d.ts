/** A .lua file imports as its text (esbuild's text loader in the bundles; engine/src/rules/lua-text.ts from source). */
declare module '*.lua' {
  const source: string;
  export default source;
}
