// Statements the engine must refuse at compile time, with a 1-based line and column at the offending token
// (spec §1.1, §1.3, §1.4, §2, §6, §7.8, §8.1, §8.7, §8.9, §8.11, §8.13, §8.15, §8.16).
import assert from 'node:assert/strict';
import { FROM, PK, compileRule, SqlError, refuses, accepts } from './helpers';

function refusesSomewhere(sql: string, options = {}) {
  let caught: unknown;
  try {
    compileRule(sql, options);
  } catch (err) {
    caught = err;
  }
  assert.ok(caught instanceof SqlError, `expected a SqlError for: ${JSON.stringify(sql)}, got ${String(caught)}`);
  const err = caught as SqlError;
  assert.ok(Number.isInteger(err.line) && err.line >= 1, `line ${err.line}`);
  assert.ok(Number.isInteger(err.column) && err.column >= 1, `column ${err.column}`);
  assert.ok(err.message.length > 10, err.message);
}

describe('conformance: refusals', () => {
  describe('function names (§8.7, §8.13)', () => {
    it("devicename() → Unknown function 'devicename' at 1:8 — did you mean deviceName()?", () => {
      const sql = `SELECT devicename() FROM ${FROM}`;
      const err = refuses(sql, [['devicename']], /Unknown function 'devicename'/);
      assert.equal(err.line, 1);
      assert.equal(err.column, 8);
      assert.equal(err.message, "Unknown function 'devicename' at 1:8 — did you mean deviceName()?");
      assert.equal(err.problem, "Unknown function 'devicename'");
      assert.equal(err.hint, 'did you mean deviceName()?');
      assert.equal(err.name, 'SqlError');
    });
    const wrongCase: Array<[string, string]> = [
      ['TO_BASE64(*)', 'to_base64'],
      ["Upper('a')", 'upper'],
      ['MessageId()', 'messageId'],
      ["thingpropertyflatmap('A')", 'thingPropertyFlatMap'],
      ['TIMESTAMP()', 'timestamp'],
    ];
    for (const [call, right] of wrongCase) {
      it(`${call} is refused with a hint naming ${right}`, () => {
        const name = call.slice(0, call.indexOf('('));
        const err = refuses(`SELECT ${call} AS x FROM ${FROM}`, [[name]], new RegExp(`Unknown function '${name}'`));
        assert.match(err.message, new RegExp(`${right}\\(`));
      });
    }
    it('an unknown function in SELECT', () => refuses(`SELECT foo(a) AS x FROM ${FROM}`, [['foo']], /Unknown function 'foo'/));
    it('an unknown function in WHERE, on a later line', () => {
      const sql = `SELECT a\nFROM ${FROM}\nWHERE a > 1 AND  bogus(a) = 2`;
      const err = refuses(sql, [['bogus']], /bogus/);
      assert.equal(err.line, 3);
    });
    it('wrong case in WHERE: Abs(t)', () => refuses(`SELECT * FROM ${FROM} WHERE Abs(t) > 1`, [['Abs']], /Unknown function 'Abs'/));
  });

  describe('literal type errors and bad literal arguments (§8.1, §8.9, §8.13)', () => {
    it('substring(true, 1.2) is refused (documented; §8.1)', () => {
      refuses(`SELECT substring(true, 1.2) AS s FROM ${FROM}`, [['true'], ['substring']]);
    });
    it('abs(true) is refused', () => refuses(`SELECT abs(true) AS s FROM ${FROM}`, [['true'], ['abs']]));
    it("substring(false, 1) in WHERE is refused", () => {
      refuses(`SELECT * FROM ${FROM} WHERE substring(false, 1) = 'x'`, [['false'], ['substring']]);
    });
    it("payload('klingon') — an unknown charset literal — is refused (§8.9)", () => {
      refuses(`SELECT payload('klingon') AS p FROM ${FROM}`, [["'klingon'"], ['payload']], /klingon/);
    });
  });

  describe('argument counts (§2 signatures)', () => {
    const cases: Array<[string, string, string?]> = [
      ['abs()', 'abs'],
      ['abs(1, 2)', 'abs', '2'],
      ["upper('a', 'b')", 'upper', "'b'"],
      ['deviceName(1)', 'deviceName', '1'],
      ["replace('a', 'b')", 'replace'],
      ['power(2)', 'power'],
      ["substring('abc')", 'substring'],
      ['log(1, 2, 3)', 'log', '3'],
      ['rand(1)', 'rand', '1'],
    ];
    for (const [call, name, extra] of cases) {
      it(`${call} is refused`, () => {
        const sql = `SELECT ${call} AS x FROM ${FROM}`;
        const at: Array<[string, number?]> = [[name]];
        if (extra) {
          assert.ok(sql.indexOf(extra) > sql.indexOf(name), 'test bug: the extra argument is the first occurrence');
          at.push([extra]);
        }
        refuses(sql, at);
      });
    }
  });

  describe('clauses the dialect does not have (§1.1, §8.16)', () => {
    const cases: Array<[string, string, number?]> = [
      [`SELECT a FROM ${FROM} GROUP BY a`, 'GROUP'],
      [`SELECT a FROM ${FROM} WHERE a > 1 ORDER BY a`, 'ORDER'],
      [`SELECT a FROM ${FROM} HAVING a > 1`, 'HAVING'],
      [`SELECT a FROM ${FROM} LIMIT 10`, 'LIMIT'],
      [`SELECT a FROM ${FROM} JOIN "/${PK}/+/user/b"`, 'JOIN'],
      [`SELECT a FROM ${FROM} UNION SELECT b FROM "/${PK}/+/user/b"`, 'UNION'],
      [`SELECT a FROM ${FROM} WHERE a IN (SELECT b FROM "/${PK}/+/user/b")`, 'SELECT', 1],
      [`SELECT (SELECT b FROM "/${PK}/+/user/b") AS s FROM ${FROM}`, 'SELECT', 1],
      [`SELECT a FROM ${FROM} WHERE a = 1 extra`, 'extra'],
    ];
    for (const [sql, token, occurrence] of cases) {
      it(`refuses ${sql} at ${token}`, () => refuses(sql, [[token, occurrence]]));
    }
    it('lower-case group by is refused too', () => refuses(`select a from ${FROM} group by a`, [['group']]));
    it('several FROM topics are refused', () => {
      const sql = `SELECT a FROM ${FROM}, "/${PK}/+/user/b"`;
      refuses(sql, [[','], [`"/${PK}/+/user/b"`]]);
    });
  });

  describe('nested CASE (§1.1: not nestable)', () => {
    it('CASE inside THEN', () => {
      const sql = `SELECT CASE a WHEN 1 THEN CASE b WHEN 2 THEN 'x' ELSE 'y' END ELSE 'z' END AS r FROM ${FROM}`;
      refuses(sql, [['CASE', 1]], /CASE/i);
    });
    it('CASE inside ELSE', () => {
      const sql = `SELECT CASE a WHEN 1 THEN 'x' ELSE CASE b WHEN 2 THEN 'y' END END AS r FROM ${FROM}`;
      refuses(sql, [['CASE', 1]], /CASE/i);
    });
    it('CASE as the CASE operand', () => {
      const sql = `SELECT CASE CASE b WHEN 2 THEN 1 END WHEN 1 THEN 'x' END AS r FROM ${FROM}`;
      refuses(sql, [['CASE', 1]], /CASE/i);
    });
    it('two CASE expressions side by side are fine', () => {
      accepts(`SELECT CASE a WHEN 1 THEN 'x' END AS r, CASE b WHEN 1 THEN 'y' END AS s FROM ${FROM}`);
    });
  });

  describe('# in FROM (§1.2, §8.15)', () => {
    const cases: Array<[string, string]> = [
      [`"/${PK}/dev01/user/#/x"`, '# not last'],
      [`"/sys/${PK}/dev01/thing/#"`, '# on a /sys topic'],
      [`"/sys/${PK}/+/#"`, '# on a /sys topic'],
      [`"/${PK}/dev01/user/a#"`, '# not a whole level'],
      [`/${PK}/dev01/user/#/x`, '# not last, unquoted'],
    ];
    for (const [filter, why] of cases) {
      it(`FROM ${filter} is refused (${why})`, () => {
        const sql = `SELECT * FROM ${filter}`;
        refuses(sql, [[filter], ['#']]);
      });
    }
    it('# as the last level of a custom topic is accepted', () => accepts(`SELECT * FROM "/${PK}/dev01/user/#"`));
  });

  describe('the product key level of FROM is literal (§1.2, §7.2)', () => {
    for (const topic of ['"/+/dev01/user/update"', '"/sys/+/dev01/thing/event/property/post"', '"/#"']) {
      it(`FROM ${topic} is refused`, () => {
        refuses(`SELECT * FROM ${topic}`, [[topic], [topic.includes('#') ? '#' : '+']]);
      });
    }
  });

  describe('constant type errors in arithmetic (§8.13, §6: string + is not in the dialect)', () => {
    it("'abc' * 2 is refused", () => refuses(`SELECT 'abc' * 2 AS v FROM ${FROM}`, [["'abc'"], ['*', 0]]));
    it("'a' + 'b' is refused", () => refuses(`SELECT 'a' + 'b' AS v FROM ${FROM}`, [["'a'"], ['+']]));
  });

  describe('syntax errors carry a position', () => {
    it('an unterminated string points at its opening quote', () => {
      const sql = `SELECT 'abc AS x FROM ${FROM}`;
      refuses(sql, [["'abc"]]);
    });
    it('an empty select list points at FROM', () => refuses(`SELECT FROM ${FROM}`, [['FROM']]));
    it('a missing operand points at the token after the operator', () => refuses(`SELECT * FROM ${FROM} WHERE a > AND b`, [['AND']]));
    it('an unclosed parenthesis', () => refusesSomewhere(`SELECT * FROM ${FROM} WHERE (a > 1`));
    it('no FROM', () => refusesSomewhere('SELECT a'));
    it('empty text', () => refusesSomewhere(''));
    it('not a SELECT', () => refuses(`DELETE FROM ${FROM}`, [['DELETE']]));
    it('a trailing comma in the select list', () => refuses(`SELECT a, FROM ${FROM}`, [['FROM']]));
    it('a second WHERE', () => refuses(`SELECT * FROM ${FROM} WHERE a = 1 WHERE b = 2`, [['WHERE', 1]]));
    it('IN without a list', () => refusesSomewhere(`SELECT * FROM ${FROM} WHERE a IN 1`));
  });

  describe('strict: true refuses every extension (§8.11, §6)', () => {
    const strict = { strict: true };
    const cases: Array<[string, Array<[string, number?]>]> = [
      [`SELECT * FROM ${FROM} WHERE NOT (a = 1)`, [['NOT']]],
      [`SELECT * FROM ${FROM} WHERE a != 1`, [['!=']]],
      [`SELECT CASE WHEN a > 1 THEN 1 ELSE 0 END AS c FROM ${FROM}`, [['CASE'], ['WHEN']]],
      [`SELECT true AS t FROM ${FROM}`, [['true']]],
      [`SELECT * FROM ${FROM} WHERE flag = FALSE`, [['FALSE']]],
      [`SELECT * FROM ${FROM} WHERE x IS NULL`, [['IS'], ['NULL']]],
      [`SELECT * FROM ${FROM} WHERE x IS NOT NULL`, [['IS'], ['NOT'], ['NULL']]],
      [`SELECT * FROM ${FROM} WHERE a BETWEEN 1 AND 5`, [['BETWEEN']]],
      [`SELECT * FROM ${FROM} WHERE a NOT IN (1, 2)`, [['NOT'], ['IN']]],
      [`SELECT ceil(a) AS c FROM ${FROM}`, [['ceil']]],
      [`SELECT round(a) AS c FROM ${FROM}`, [['round']]],
      [`SELECT productKey() AS c FROM ${FROM}`, [['productKey']]],
      [`SELECT * FROM ${FROM} WHERE startswith(a, 'x')`, [['startswith']]],
      [`SELECT * FROM '/${PK}/+/user/update'`, [[`'/${PK}/+/user/update'`]]], // §1.1: single-quoted FROM is an extension
    ];
    for (const [sql, at] of cases) {
      it(`strict refuses: ${sql.replace(FROM, '…')}`, () => refuses(sql, at, undefined, strict));
    }
    it('the same extensions are accepted without strict', () => {
      for (const sql of cases.slice(0, 7).map(([s]) => s)) accepts(sql);
    });
    const documented = [
      `SELECT * FROM ${FROM} WHERE color = 'red' AND (siren = 'on' OR isTest)`,
      `SELECT abs(temperature) tmr, "a[0]" AS a0, 'a' a2 FROM ${FROM} WHERE temperature <> 0`,
      `SELECT CASE col WHEN 1 THEN 'Y' WHEN 0 THEN 'N' ELSE 'U' END AS c FROM ${FROM}`,
      `SELECT * FROM ${FROM} WHERE name like '%abc' AND name not like '%def%' AND n in (1, 2, 3)`,
      `SELECT *, deviceName() as deviceName, timestamp('yyyy-MM-dd\\'T\\'HH:mm:ss\\'Z\\'') AS t FROM ${FROM}`,
      `SELECT a FROM ${FROM} WHERE a % 2 = 1 AND a / 2 < 10 AND a * 3 >= a - 1 AND a + 1 <= 100 AND a > 0 OR a < -100`,
    ];
    for (const sql of documented) {
      it(`strict accepts the documented dialect: ${sql.replace(FROM, '…')}`, () => accepts(sql, strict));
    }
  });

  describe('positions on later lines and after non-ASCII text', () => {
    const cases: Array<[string, Array<[string, number?]>, object?]> = [
      [`SELECT a,\n       b\nFROM ${FROM}\nWHERE a > 1\nGROUP BY a`, [['GROUP']]],
      [`SELECT\n  CASE a WHEN 1 THEN\n    CASE b WHEN 2 THEN 'x' END\n  END AS r\nFROM ${FROM}`, [['CASE', 1]]],
      [`SELECT *\nFROM "/${PK}/d/user/#/more"`, [[`"/${PK}/d/user/#/more"`], ['#']]],
      [`SELECT to_hex(*) AS h\nFROM "/${PK}/+/user/bin"\nWHERE  level > 3`, [['level']], { dataType: 'BINARY' }],
      [`SELECT *\nFROM ${FROM}\nWHERE a = 1 AND\n      b != 2`, [['!=']], { strict: true }],
      [`SELECT '温度传感器' AS label, upper(x) AS u, Lower(y) AS l FROM ${FROM}`, [['Lower']]],
      [`SELECT '温度'\n,  substring(true, 1) AS s FROM ${FROM}`, [['true'], ['substring']]],
    ];
    for (const [sql, at, options] of cases) {
      it(`refuses at ${at.map(([t]) => t).join(' or ')}: ${JSON.stringify(sql.replace(FROM, '…'))}`, () => {
        refuses(sql, at, undefined, options ?? {});
      });
    }
  });

  describe('SQL cannot reach JavaScript', () => {
    for (const sql of [
      `SELECT constructor.constructor('return process')() AS x FROM ${FROM}`,
      `SELECT a FROM ${FROM} WHERE process.exit(1)`,
      `SELECT require('fs') AS x FROM ${FROM}`,
      `SELECT eval('1') AS x FROM ${FROM}`,
    ]) {
      it(`refuses ${sql.replace(FROM, '…')}`, () => refusesSomewhere(sql));
    }
  });

  describe('a refusal never happens at evaluate time', () => {
    it('compileRule throws before any message; a valid rule never throws on evaluate', () => {
      const rule = compileRule(`SELECT abs(t) AS a FROM ${FROM}`);
      assert.doesNotThrow(() => rule.evaluate({ topic: `/${PK}/d/user/update`, payload: { t: 'x' } }));
    });
  });
});
