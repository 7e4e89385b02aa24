// A small consumer of the published schemas, type-checked by `tsc --noEmit` (see check.mjs):
// it reads a fixture and narrows on `CallbackCommand`, with types generated from the bundle by
// json-schema-to-typescript and with the npm package's own declarations.
import type { EventTime, TencentCloudChatCallbacks } from "./generated/bundle.js";
import type { CallbackBodies, CallbackBody, common } from "../../../schema/dist/npm/index.js";
import sample from "../../fixtures/Group.CallbackAfterCreateGroup/sample.json" with { type: "json" };

// The vendor sends the event time as a number or as a string of digits: both are typed.
const asNumber: EventTime = 1670574414123;
const asString: EventTime = "1670574414123";

function describe(body: TencentCloudChatCallbacks): string {
  switch (body.CallbackCommand) {
    case "Group.CallbackAfterCreateGroup":
      return `${body.Operator_Account} created ${body.GroupId} (${body.Type}) at ${body.EventTime}`;
    case "C2C.CallbackBeforeSendMsg":
      return body.MsgBody.map((element) => element.MsgType).join(", ");
    default:
      return body.CallbackCommand;
  }
}

// The npm package's declarations: a map from command to body type, open enums, message unions.
function owner(body: CallbackBodies["Group.CallbackAfterCreateGroup"]): string {
  const type: common.GroupType = body.Type;
  // Optional: copies of the pages older than December 2022 have no event time.
  const time: number | string | undefined = body.EventTime;
  return `${body.Owner_Account} owns a ${type} group since ${time ?? "an unknown time"}`;
}

function texts(body: CallbackBody): string[] {
  if (!("CallbackCommand" in body) || body.CallbackCommand !== "C2C.CallbackBeforeSendMsg") return [];
  return body.MsgBody.flatMap((element) => (element.MsgType === "TIMTextElem" ? [String(element.MsgContent)] : []));
}

const received = sample as TencentCloudChatCallbacks;
export const lines: string[] = [
  describe(received),
  owner(sample as CallbackBodies["Group.CallbackAfterCreateGroup"]),
  ...texts(sample as CallbackBody),
  String(asNumber),
  String(asString),
];
