/** asl-validator 4 ships no types; this is the part the tests use (`module.exports = function`). */
declare module 'asl-validator' {
  interface AslValidationResult {
    isValid: boolean;
    errors: readonly { 'Error code': string; Message: string }[];
    errorsText(separator?: string): string;
  }

  function aslValidator(
    definition: unknown,
    options?: { checkPaths?: boolean; checkArn?: boolean },
  ): AslValidationResult;
  export = aslValidator;
}
