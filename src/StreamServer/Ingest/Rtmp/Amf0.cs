using System.Buffers.Binary;
using System.Text;

namespace StreamServer.Ingest.Rtmp;

/// <summary>
/// AMF0 (the encoding of RTMP commands): numbers, booleans, strings, objects, ECMA arrays, null/undefined. Values read
/// as double, bool, string, Dictionary&lt;string, object?&gt; or null. Every length is checked against what is left of
/// the message, nesting is limited to <see cref="MaxDepth"/>, objects to <see cref="MaxProperties"/> properties.
/// </summary>
internal static class Amf0
{
    public const int MaxDepth = 8;
    public const int MaxProperties = 256;

    private const byte Number = 0x00;
    private const byte Boolean = 0x01;
    private const byte String = 0x02;
    private const byte Object = 0x03;
    private const byte Null = 0x05;
    private const byte Undefined = 0x06;
    private const byte EcmaArray = 0x08;
    private const byte ObjectEnd = 0x09;
    private const byte StrictArray = 0x0A;
    private const byte LongString = 0x0C;

    /// <summary>Reads every value of a command or data message.</summary>
    public static List<object?> ReadAll(ReadOnlySpan<byte> data)
    {
        var values = new List<object?>();
        while (!data.IsEmpty)
        {
            values.Add(Read(ref data, 0));
        }

        return values;
    }

    private static object? Read(ref ReadOnlySpan<byte> data, int depth)
    {
        if (depth > MaxDepth)
        {
            throw new RtmpProtocolException($"AMF0 nested deeper than {MaxDepth}");
        }

        var marker = Take(ref data, 1)[0];
        switch (marker)
        {
            case Number:
                return BinaryPrimitives.ReadDoubleBigEndian(Take(ref data, 8));
            case Boolean:
                return Take(ref data, 1)[0] != 0;
            case String:
                return ReadString(ref data, BinaryPrimitives.ReadUInt16BigEndian(Take(ref data, 2)));
            case LongString:
                return ReadString(ref data, BinaryPrimitives.ReadUInt32BigEndian(Take(ref data, 4)));
            case Null or Undefined:
                return null;
            case Object:
                return ReadProperties(ref data, depth);
            case EcmaArray:
                Take(ref data, 4); // count hint: not trusted, the end marker ends it
                return ReadProperties(ref data, depth);
            case StrictArray:
                var count = BinaryPrimitives.ReadUInt32BigEndian(Take(ref data, 4));
                if (count > MaxProperties || count > (uint)data.Length)
                {
                    throw new RtmpProtocolException($"AMF0 strict array of {count} items in {data.Length} bytes");
                }

                var list = new List<object?>((int)count);
                for (var i = 0; i < count; i++)
                {
                    list.Add(Read(ref data, depth + 1));
                }

                return list;
            default:
                throw new RtmpProtocolException($"AMF0 type 0x{marker:x2} not supported");
        }
    }

    private static Dictionary<string, object?> ReadProperties(ref ReadOnlySpan<byte> data, int depth)
    {
        var result = new Dictionary<string, object?>(StringComparer.Ordinal);
        while (true)
        {
            var keyLength = BinaryPrimitives.ReadUInt16BigEndian(Take(ref data, 2));
            if (keyLength == 0 && !data.IsEmpty && data[0] == ObjectEnd)
            {
                data = data[1..];
                return result;
            }

            if (result.Count >= MaxProperties)
            {
                throw new RtmpProtocolException($"AMF0 object with more than {MaxProperties} properties");
            }

            var key = ReadString(ref data, keyLength);
            result[key] = Read(ref data, depth + 1);
        }
    }

    private static string ReadString(ref ReadOnlySpan<byte> data, uint length) => Encoding.UTF8.GetString(Take(ref data, length));

    private static ReadOnlySpan<byte> Take(ref ReadOnlySpan<byte> data, uint length)
    {
        if (length > (uint)data.Length)
        {
            throw new RtmpProtocolException($"AMF0 value of {length} bytes with {data.Length} left in the message");
        }

        var taken = data[..(int)length];
        data = data[(int)length..];
        return taken;
    }

    /// <summary>Builds AMF0 bodies for our replies (rare, small: plain byte lists are fine).</summary>
    public sealed class Writer
    {
        private readonly List<byte> _bytes = [];

        public Writer Number(double value)
        {
            _bytes.Add(Amf0.Number);
            Span<byte> b = stackalloc byte[8];
            BinaryPrimitives.WriteDoubleBigEndian(b, value);
            _bytes.AddRange(b);
            return this;
        }

        public Writer String(string value)
        {
            _bytes.Add(Amf0.String);
            Utf8(value);
            return this;
        }

        public Writer Null()
        {
            _bytes.Add(Amf0.Null);
            return this;
        }

        public Writer Object(params (string Key, object? Value)[] properties)
        {
            _bytes.Add(Amf0.Object);
            foreach (var (key, value) in properties)
            {
                Utf8(key);
                switch (value)
                {
                    case string s:
                        String(s);
                        break;
                    case double d:
                        Number(d);
                        break;
                    case bool flag:
                        _bytes.Add(Boolean);
                        _bytes.Add(flag ? (byte)1 : (byte)0);
                        break;
                    default:
                        Null();
                        break;
                }
            }

            _bytes.AddRange([0, 0, ObjectEnd]);
            return this;
        }

        public byte[] ToArray() => [.. _bytes];

        private void Utf8(string value)
        {
            var bytes = Encoding.UTF8.GetBytes(value);
            _bytes.Add((byte)(bytes.Length >> 8));
            _bytes.Add((byte)bytes.Length);
            _bytes.AddRange(bytes);
        }
    }
}
