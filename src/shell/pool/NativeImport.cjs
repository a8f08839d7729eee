// Node's own dynamic import, for Locate.nativeImport: a CommonJS file is loaded by
// Node's require even when the caller was transformed by a bundler or test runner
// (vitest), so this import() goes through Node's loader and its registerHooks.
module.exports = (url) => import(url)
