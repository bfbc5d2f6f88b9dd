"use strict";
// Preloaded into the jsii runtime's Node (`--require`, set by vault_platform/provider_imports.py):
// each cdktf prebuilt provider's lib/index.js loads its resource modules when first used
// instead of all of them at once. The Node half of what provider_imports.py does for the
// Python bindings, and for the same reason: index.js has one
//     exports.<name> = require("./<module>");
// line per resource type (2,135 for AWS, 109 for Kubernetes), and compiling all of them was
// most of the jsii kernel's `load` of a provider (2.1 s of 3.3 s for AWS and Kubernetes),
// while the stacks use about 60. Each such line becomes a property that requires its module
// at first read and then holds it, as the eager line would have; nothing else in the file
// changes. jsii reaches a type through these properties (its kernel's findSymbol reads
// `<package>.<submodule>.<Class>` one name at a time) and never lists them, so only the
// modules the stacks name are ever compiled. The synthesized JSON is byte-identical
// (tests/test_synth_output.py); tests/test_node_lazy_exports.py runs this file on every
// provider's real index.js.

const Module = require("node:module");

// The index of a prebuilt provider package, wherever jsii put it (its kernel's work directory).
const PROVIDER_INDEX = /[\\/]@cdktf[\\/]provider-[a-z0-9-]+[\\/]lib[\\/]index\.js$/;
// The generated eager line: a whole line, a relative require of one submodule.
const EAGER_SUBMODULE = /^exports\.([A-Za-z_$][\w$]*) = require\(("\.\/[\w.-]+")\);$/gm;
const INSTALLED = Symbol.for("vault-platform.lazy-provider-exports");

/** The index source with each eager submodule line made lazy, and how many were. One line
 * stays one line, so positions in stack traces do not move. */
function lazyExports(source) {
  let count = 0;
  const lazy = source.replace(EAGER_SUBMODULE, (_line, name, request) => {
    count += 1;
    const key = JSON.stringify(name);
    const hold = `Object.defineProperty(exports, ${key}, { value, enumerable: true, configurable: true, writable: true })`;
    return `Object.defineProperty(exports, ${key}, { enumerable: true, configurable: true, ` +
      `get() { const value = require(${request}); ${hold}; return value; }, set(value) { ${hold}; } });`;
  });
  return { source: lazy, count };
}

if (!Module.prototype._compile[INSTALLED]) {
  const compile = Module.prototype._compile;
  const compileWithLazyExports = function (content, filename, ...rest) {
    // A file of another layout (no eager lines) is compiled as it is: correct, only slower.
    const source = PROVIDER_INDEX.test(filename) ? lazyExports(content).source : content;
    return compile.call(this, source, filename, ...rest);
  };
  compileWithLazyExports[INSTALLED] = true;
  Module.prototype._compile = compileWithLazyExports;
}

module.exports = { lazyExports, PROVIDER_INDEX };
