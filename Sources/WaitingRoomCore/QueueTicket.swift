/// What a shopper's signed ticket says: which room (and which incarnation of it), their place, and when.
///
/// The server keeps no per-shopper record while they wait; the ticket *is* the place in the queue.
/// Its text form is `v1.<room>.<epoch>.<seq>.<issuedAtMs>.<id>`; the HMAC is added by the ticket signer.
public struct QueueTicket: Sendable, Equatable {
    public var room: String
    /// Changes when a room is deleted and created again, so old tickets are foreign to the new room.
    public var epoch: String
    public var seq: Int64
    public var issuedAtMs: Int64
    /// Random id: the `sub` of the admission token and the key of the shopper's admission record.
    public var id: String

    public init(room: String, epoch: String, seq: Int64, issuedAtMs: Int64, id: String) {
        self.room = room
        self.epoch = epoch
        self.seq = seq
        self.issuedAtMs = issuedAtMs
        self.id = id
    }

    public var payload: String { "v1.\(room).\(epoch).\(seq).\(issuedAtMs).\(id)" }

    /// Parses a payload whose MAC has already been checked. Runs on every poll: one pass over the bytes,
    /// no intermediate arrays.
    public init?(payload: Substring) {
        var fields: (Substring, Substring, Substring, Substring, Substring, Substring) = ("", "", "", "", "", "")
        var count = 0
        var start = payload.startIndex
        var index = payload.startIndex
        let utf8 = payload.utf8
        func store(_ field: Substring) {
            switch count {
            case 0: fields.0 = field
            case 1: fields.1 = field
            case 2: fields.2 = field
            case 3: fields.3 = field
            case 4: fields.4 = field
            default: fields.5 = field
            }
            count += 1
        }
        while index < utf8.endIndex {
            if utf8[index] == UInt8(ascii: ".") {
                guard count < 5 else { return nil }
                store(payload[start..<index])
                start = utf8.index(after: index)
            }
            index = utf8.index(after: index)
        }
        store(payload[start...])
        guard count == 6, fields.0 == "v1", RoomName.isValid(fields.1), !fields.2.isEmpty,
            let seq = Int64(fields.3), TicketRules.places.contains(seq), let issued = Int64(fields.4), issued >= 0, !fields.5.isEmpty
        else { return nil }
        self.init(room: String(fields.1), epoch: String(fields.2), seq: seq, issuedAtMs: issued, id: String(fields.5))
    }

    public init?(payload: String) {
        self.init(payload: Substring(payload))
    }
}
