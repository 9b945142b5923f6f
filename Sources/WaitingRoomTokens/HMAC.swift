/// HMAC-SHA256 for webhook signatures (`Waitroom-Signature: t=…,v1=<hex>`).
public enum HMAC {
    public static func sha256(key: [UInt8], message: [UInt8]) -> [UInt8] {
        // An empty key is valid HMAC but not a valid template; hooks always have 16+ byte secrets.
        guard let template = try? OpenSSL.MACTemplate(key: key.isEmpty ? [0] : key) else { return [] }
        return message.withUnsafeBytes { template.authenticate($0) }
    }

    public static func hex(_ bytes: [UInt8]) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count * 2)
        for byte in bytes {
            out.append(digits[Int(byte >> 4)])
            out.append(digits[Int(byte & 15)])
        }
        return String(decoding: out, as: UTF8.self)
    }
}
