/**
 * What the two rule parsers (iptables-save rules, nft rules) share: the error a rule's syntax gets
 * (the dump parsers turn it into a dumpError naming the line) and a cursor over the rule's tokens.
 */

export class RuleSyntaxError extends Error {}

export const failRule = (reason: string): never => {
  throw new RuleSyntaxError(reason);
};

export interface Cursor {
  readonly tokens: readonly string[];
  at: number;
}

export const peek = (c: Cursor, ahead = 0): string | undefined => c.tokens[c.at + ahead];

/** The next token; a RuleSyntaxError naming `what` when the rule ends first. */
export function next(c: Cursor, what: string): string {
  const token = c.tokens[c.at++];
  if (token === undefined) failRule(`${what} is missing a value`);
  return token as string;
}
