import { scrubMessage } from '../../../core/masking/scrub-messages';
import { errorResponse, noticeResponse } from '../protocol/backend-messages';
import { BackendCode, HEADER_LENGTH } from '../protocol/codes';
import { decodeErrorFields, type PgErrorFields } from '../protocol/error-fields';

/**
 * An ErrorResponse or NoticeResponse of a masked session with echoed values taken out; undefined
 * when it echoes none (it is sent as it came).
 */
export function scrubServerMessage(code: number, message: Buffer): Buffer | undefined {
  const fields = decodeErrorFields(message.subarray(HEADER_LENGTH));
  const before = {
    code: fields.code,
    message: fields.message,
    detail: fields.detail,
    where: fields.other?.W,
  };
  const after = scrubMessage(before);
  if (after === before) return undefined;
  const scrubbed: PgErrorFields = {
    ...fields,
    message: after.message,
    detail: after.detail,
    other: after.where === undefined ? fields.other : { ...fields.other, W: after.where },
  };
  return code === BackendCode.NoticeResponse ? noticeResponse(scrubbed) : errorResponse(scrubbed);
}
