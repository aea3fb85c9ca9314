'use strict';
// Loaded with `mocha --require` by editor-engine.test.ts around the SQL conformance suite: every compileRule call
// the suite makes (through lib/sql's index) is written, with its options, to the JSON file named by
// RECORD_COMPILES_TO when the process exits. The calls themselves run unchanged.
const Module = require('node:module');
const fs = require('node:fs');
const path = require('node:path');

const out = process.env.RECORD_COMPILES_TO;
const SQL_INDEX = path.resolve(__dirname, '../../../lib/sql/index.ts');
const CORPUS_DIR = path.resolve(__dirname, '../../sql/conformance') + path.sep;
const calls = [];
let wrapped;

const load = Module._load;
Module._load = function (request, parent, isMain) {
  const exports = load.apply(this, arguments);
  if (!out || !parent || !parent.filename || !parent.filename.startsWith(CORPUS_DIR)) return exports;
  let file;
  try {
    file = Module._resolveFilename(request, parent, isMain);
  } catch {
    return exports;
  }
  if (file !== SQL_INDEX) return exports;
  if (!wrapped) {
    wrapped = { ...exports };
    wrapped.compileRule = function (sql, options) {
      calls.push({ sql, options: options === undefined ? null : options });
      return exports.compileRule(sql, options);
    };
  }
  return wrapped;
};

process.on('exit', () => {
  if (out) fs.writeFileSync(out, JSON.stringify(calls));
});
