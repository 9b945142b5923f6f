import WaitingRoomCore
import WaitingRoomTokens

extension RoomBoard {
    /// The document, fields in a fixed order, `version` a hash of everything else (so also the ETag).
    var encoded: (json: String, version: String) {
        let knots = eta.map { "[\($0.position),\($0.eta.low),\($0.eta.high)]" }.joined(separator: ",")
        let fields =
            #""serverTimeMs":\#(serverTimeMs),"state":"\#(state.rawValue)","opensAtMs":\#(opensAtMs.map(String.init) ?? "null"),"#
            + #""head":\#(head),"tail":\#(tail),"onHold":\#(onHold),"stale":\#(stale),"readAfterMs":\#(readAfterMs),"#
            + #""claimWindowSeconds":\#(claimWindowSeconds),"eta":[\#(knots)],"prequeue":\#(prequeue),"#
            + #""lotteryCommitment":\#(Self.optionalString(lotteryCommitment)),"lotteryKey":\#(Self.optionalString(lotteryKey))}"#
        let version = Self.version(of: fields)
        return (#"{"room":"\#(JSONText.escape(room))","version":"\#(version)",\#(fields)"#, version)
    }

    private static func optionalString(_ value: String?) -> String {
        value.map { #""\#(JSONText.escape($0))""# } ?? "null"
    }

    /// FNV-1a 64 of the document's fields, as 16 hex digits: changes whenever anything on the board does.
    static func version(of text: String) -> String {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in text.utf8 { hash = (hash ^ UInt64(byte)) &* 0x100_0000_01b3 }
        let hex = String(hash, radix: 16)
        return String(repeating: "0", count: 16 - hex.count) + hex
    }
}
