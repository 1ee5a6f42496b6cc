/**
 * Value detectors: the backstop for returned columns whose origin cannot be traced (a function that is
 * not built in…), when a grant chooses `untraceable: detect`. A value that looks like one of these is
 * redacted; anything else passes. Pattern matching misses what it does not recognise, which is why
 * lineage decides first and this only backs it up.
 */

/** US social security number, with or without separators. */
const SSN = /\b\d{3}[- ]?\d{2}[- ]?\d{4}\b/;
/** 13 to 19 digits, optionally grouped: a payment card number when the Luhn check passes. */
const CARD_CANDIDATE = /\b(?:\d[ -]?){12,18}\d\b/g;
const EMAIL = /[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}/;
/** International or North American phone numbers. */
const PHONE = /(?<![\d+])(?:\+\d{1,3}[ .-]?)?\(?\d{3}\)?[ .-]?\d{3}[ .-]?\d{4}(?!\d)/;
const AWS_ACCESS_KEY = /\b(?:AKIA|ASIA)[A-Z0-9]{16}\b/;
const JWT = /\beyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*/;
const PRIVATE_KEY = /-----BEGIN (?:[A-Z]+ )?PRIVATE KEY-----/;

export const DETECTORS = [
  'ssn',
  'payment-card',
  'email',
  'phone',
  'aws-access-key',
  'jwt',
  'private-key',
] as const;
export type Detector = (typeof DETECTORS)[number];

function luhn(digits: string): boolean {
  let sum = 0;
  for (let i = 0; i < digits.length; i++) {
    let digit = digits.charCodeAt(digits.length - 1 - i) - 48;
    if (i % 2 === 1) {
      digit *= 2;
      if (digit > 9) digit -= 9;
    }
    sum += digit;
  }
  return sum % 10 === 0;
}

function hasCard(text: string): boolean {
  for (const match of text.matchAll(CARD_CANDIDATE)) {
    const digits = match[0].replace(/[ -]/g, '');
    if (digits.length >= 13 && digits.length <= 19 && luhn(digits)) return true;
  }
  return false;
}

/** Which detector, if any, recognises something sensitive in the text. */
export function detect(text: string): Detector | undefined {
  if (PRIVATE_KEY.test(text)) return 'private-key';
  if (JWT.test(text)) return 'jwt';
  if (AWS_ACCESS_KEY.test(text)) return 'aws-access-key';
  if (EMAIL.test(text)) return 'email';
  if (hasCard(text)) return 'payment-card';
  if (SSN.test(text)) return 'ssn';
  if (PHONE.test(text)) return 'phone';
  return undefined;
}
