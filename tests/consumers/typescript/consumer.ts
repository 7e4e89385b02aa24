// A consumer of the types json-schema-to-typescript generates from the published schemas
// (jstt.mjs writes them to generated/jstt/), compiled by `tsc --strict`: what a TypeScript team
// would write, and so what the schemas' shape must allow.
import type {
  AfterCreateGroup,
  CallbackBodies,
  CallbackBody,
  CallbackReplies,
  EventTime,
  GroupType,
  KnownMsgBodyElement,
  MsgBodyElement,
  PortraitSet,
} from "./generated/jstt/bundle.js";
import type { C2CBeforeSendMsg, C2CBeforeSendMsgReply } from "./generated/jstt/commands/C2C.CallbackBeforeSendMsg.js";

// The vendor sends the event time as a number or as a string of digits: both are typed.
export const times: EventTime[] = [1670574414123, "1670574414123"];
// Open enums take the known values and any later one.
export const types: GroupType[] = ["Public", "SomeFutureType"];

// A body narrows on its command.
export function describe(body: CallbackBody): string {
  switch (body.CallbackCommand) {
    case "Group.CallbackAfterCreateGroup":
      return `${body.Operator_Account} created ${body.GroupId} (${body.Type}) at ${body.EventTime}`;
    case "C2C.CallbackBeforeSendMsg":
      return body.MsgBody.map((element) => element.MsgType).join(", ");
    default:
      return body.CallbackCommand;
  }
}

// An element narrows on its tag, unknown kinds included in the type.
export function textOf(el: MsgBodyElement): unknown {
  if (el.MsgType === "TIMTextElem") return el.MsgContent.Text;
  return undefined;
}

const known = new Set<string>(["TIMTextElem", "TIMLocationElem", "TIMFaceElem", "TIMCustomElem", "TIMSoundElem", "TIMImageElem", "TIMFileElem", "TIMVideoFileElem", "TIMRelayElem"]);
const isKnown = (el: MsgBodyElement): el is KnownMsgBodyElement => known.has(el.MsgType);

// The closed union narrows to the content type of each kind.
export function summary(el: MsgBodyElement): string {
  if (!isKnown(el)) return `[${el.MsgType}]`;
  switch (el.MsgType) {
    case "TIMTextElem":
      // Optional on the wire: older copies of the pages send text elements without it.
      return el.MsgContent.Text ?? "";
    case "TIMLocationElem":
      return `${el.MsgContent.Latitude},${el.MsgContent.Longitude}`;
    case "TIMRelayElem":
      return el.MsgContent.Title ?? "";
    default:
      return el.MsgType;
  }
}

// A profile field keeps its value whatever its tag.
export function profileValues(body: PortraitSet): unknown[] {
  return body.ProfileItem.map((item) => item.Value);
}

// The maps from command to body and reply types.
export function owner(body: CallbackBodies["Group.CallbackAfterCreateGroup"]): AfterCreateGroup {
  return body;
}
export const allow: CallbackReplies["C2C.CallbackBeforeSendMsg"] = { ActionStatus: "OK", ErrorCode: 0, ErrorInfo: "" };
export const reply: C2CBeforeSendMsgReply = { ...allow, MsgBody: [{ MsgType: "TIMTextElem", MsgContent: { Text: "edited" } }] };
export const firstElement = (body: C2CBeforeSendMsg): MsgBodyElement | undefined => body.MsgBody[0];
