// The CommonJS entry point of the packed package, used with `require` (compiled as CommonJS):
// the same exports, and the same objects as the ES module entry point.
import tcc = require("tencent-chat-callbacks");

const VENDOR_SIGN = "17773bc39a671d7b9aa835458704d2a6db81360a5940292b587d6d760d484061";

export async function checkCommonJs(): Promise<string[]> {
  const problems: string[] = [];
  if (!tcc.verifySign("xxxxyyyy", "1669872112", VENDOR_SIGN, { now: 1669872112 })) problems.push("verifySign");
  const webhooks = new tcc.Webhooks({ appId: 1 }).on("Sns.CallbackFriendAdd", () => undefined);
  const reply: tcc.HttpReply = await webhooks.dispatch("SdkAppid=1&CallbackCommand=Sns.CallbackFriendAdd", "[]");
  if (reply.status !== 400) problems.push(`dispatch: ${reply.status}`);
  const esm = await import("tencent-chat-callbacks");
  if (esm.Webhooks !== tcc.Webhooks || esm.decision !== tcc.decision) problems.push("ESM and CommonJS differ");
  return problems;
}
