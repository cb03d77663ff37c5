// Jest: a .lua file imports as its text, as esbuild's text loader makes it in the bundles.
module.exports = {
  process(source) {
    return { code: `module.exports = ${JSON.stringify(source)};` };
  },
};
