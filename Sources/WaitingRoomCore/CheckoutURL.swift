import Foundation

/// Where admitted shoppers are sent, carrying their token: an http(s) URL with a host, or an absolute path
/// on the gate's own site.
public enum CheckoutURL {
    /// Why `text` is not an acceptable checkout URL, or nil.
    public static func problem(_ text: String) -> String? {
        let isPath = text.hasPrefix("/") && !text.hasPrefix("//") && URL(string: text) != nil
        let isWebURL = URL(string: text).map { ["http", "https"].contains($0.scheme?.lowercased() ?? "") && $0.host != nil } ?? false
        return isPath || isWebURL ? nil : "must be an http(s) URL or an absolute path"
    }
}
