// AST of one rule statement. Every node keeps its 1-based position and source offsets.

export interface Pos {
  line: number;
  column: number;
  /** Source offsets [start, end). */
  start: number;
  end: number;
}

export type PathSegment = string | number;

export type Expr =
  | { k: 'lit'; value: string | number | boolean; pos: Pos }
  | {
    k: 'path'; segments: PathSegment[]; /** leading `.`: wrap the result in an array */ wrap: boolean;
    /** written in double quotes */ quoted: boolean; pos: Pos;
  }
  | { k: 'star'; pos: Pos }
  | { k: 'call'; name: string; args: Expr[]; pos: Pos; namePos: Pos }
  | { k: 'neg'; arg: Expr; pos: Pos }
  | { k: 'not'; arg: Expr; pos: Pos }
  | { k: 'bin'; op: BinOp; left: Expr; right: Expr; pos: Pos; opPos: Pos }
  | { k: 'like'; not: boolean; arg: Expr; pattern: string; pos: Pos }
  | { k: 'in'; arg: Expr; list: Expr[]; pos: Pos }
  | { k: 'isnull'; not: boolean; arg: Expr; pos: Pos }
  | { k: 'case'; subject?: Expr; whens: { when: Expr; then: Expr }[]; else?: Expr; pos: Pos };

export type BinOp = '+' | '-' | '*' | '/' | '%' | '=' | '<>' | '!=' | '<' | '<=' | '>' | '>=' | 'AND' | 'OR';

export type SelectItem =
  | { k: 'star'; pos: Pos }
  | { k: 'expr'; expr: Expr; alias?: string; aliasPos?: Pos; pos: Pos };

export interface FromClause {
  /** The topic filter without quotes. */
  filter: string;
  quote: '"' | "'" | '';
  pos: Pos;
}

export interface Statement {
  select: SelectItem[];
  from: FromClause;
  where?: Expr;
}
