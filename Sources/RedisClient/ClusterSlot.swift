/// Redis Cluster's key → slot rule: CRC16 (XMODEM) of the key, or of its hash tag (the part between the
/// first `{` and the next `}` when not empty), modulo 16384. All keys of a room carry `{room}`, so one slot
/// holds the whole room.
enum ClusterSlot {
    static let count = 16384

    static func of(_ key: [UInt8]) -> Int {
        var hashed = key[...]
        if let open = key.firstIndex(of: UInt8(ascii: "{")),
            let close = key[(open + 1)...].firstIndex(of: UInt8(ascii: "}")), close > open + 1
        {
            hashed = key[(open + 1)..<close]
        }
        return Int(crc16(hashed)) % count
    }

    /// The key a command is routed by; nil for commands that name no key (they follow the command before
    /// them in a pipeline: `WAIT` after a script, `EVALSHA` after `ASKING`).
    static func key(of command: [RedisArgument]) -> [UInt8]? {
        guard let name = command.first?.bytes else { return nil }
        let upper = String(decoding: name, as: UTF8.self).uppercased()
        switch upper {
        case "EVAL", "EVALSHA", "EVAL_RO", "EVALSHA_RO", "FCALL":
            guard command.count > 3, let keys = Int(String(decoding: command[2].bytes, as: UTF8.self)), keys > 0 else { return nil }
            return command[3].bytes
        case "PING", "INFO", "TIME", "SCRIPT", "WAIT", "ASKING", "CLUSTER", "ROLE", "AUTH", "SELECT", "CONFIG", "DEBUG", "CLIENT",
            "COMMAND", "DBSIZE", "FLUSHALL", "FLUSHDB", "SCAN", "KEYS", "RANDOMKEY", "MULTI", "EXEC", "READONLY", "READWRITE":
            return nil
        default:
            return command.count > 1 ? command[1].bytes : nil
        }
    }

    private static let table: [UInt16] = (0..<256).map { byte in
        var crc = UInt16(byte) << 8
        for _ in 0..<8 { crc = crc & 0x8000 != 0 ? (crc << 1) ^ 0x1021 : crc << 1 }
        return crc
    }

    static func crc16(_ bytes: ArraySlice<UInt8>) -> UInt16 {
        var crc: UInt16 = 0
        for byte in bytes { crc = (crc << 8) ^ table[Int((crc >> 8) ^ UInt16(byte))] }
        return crc
    }
}
