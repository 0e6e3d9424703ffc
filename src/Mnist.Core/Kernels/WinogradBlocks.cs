using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Mnist.Core.Kernels;

/// <summary>
/// The transforms of <see cref="WinogradTransforms"/> over a block of tiles, eight tiles to a
/// vector: tile j of the block is lane j % 8, and the transformed tiles are rows of the GEMM
/// operands, so lanes load and store contiguously there. On the image side, input windows are
/// read from a zero-padded copy (rows of four floats, transposed in registers), outputs stored as
/// row pairs (one by one at the output's edges), output gradients gathered (AVX2, masked at the
/// edges). Each lane does exactly the scalar transform's operations in the same order, so a tile
/// gives the same bits in a vector as in the scalar tail, and without AVX everything runs the scalar way.
/// </summary>
internal static unsafe class WinogradBlocks
{
    private const int Lanes = 8;

    /// <summary>Where each tile of a block lies: filled once per block, used for every channel.</summary>
    public readonly struct TileMap(int* input, int* output, int* edges)
    {
        /// <summary>Offset of the tile's 4×4 input window in channel 0 of the padded batch (<see cref="Padded"/>).</summary>
        public readonly int* Input = input;
        /// <summary>Offset of the tile's top-left output in channel 0 of the batch's output.</summary>
        public readonly int* Output = output;
        /// <summary>Bit 0: the tile has a right column inside the output; bit 1: a lower row.</summary>
        public readonly int* Edges = edges;

        /// <summary>Ints a map of <paramref name="tiles"/> tiles takes.</summary>
        public static int Ints(int tiles) => 3 * tiles;

        public static TileMap At(int* ints, int tiles) => new(ints, ints + tiles, ints + 2 * tiles);
    }

    /// <summary>The 2×2 output tiles of one image: ceil(OH/2) rows of ceil(OW/2).</summary>
    public readonly struct TileGrid(in ConvGeometry g)
    {
        public readonly int Rows = (g.OutH + 1) / 2, Columns = (g.OutW + 1) / 2;
        public int PerImage => Rows * Columns;
    }

    /// <summary>
    /// The input planes padded with zeros to 2·(tile rows) + 2 by 2·(tile columns) + 2, the image at
    /// (pad, pad): every tile's window then lies inside its plane, at (2·tile row, 2·tile column).
    /// </summary>
    public static ConvGeometry Padded(in ConvGeometry g)
    {
        var tiles = new TileGrid(g);
        return new(g.Channels, 2 * tiles.Rows + 2, 2 * tiles.Columns + 2, 3, 3, 1, 0);
    }

    /// <summary>
    /// Copies a batch into the <see cref="Padded"/> layout (p = the convolution's padding), writing
    /// each float once: the zero border around the rows, the rows between. Large batches split their
    /// planes over the kernel threads (serial, it left the other core idle for about 3% of a classic
    /// epoch: perf, Zen 5).
    /// </summary>
    public static void Pad(in ConvGeometry g, int batch, float* x, float* padded)
    {
        int planes = batch * g.Channels;
        int chunks = KernelThreads.ThreadsFor(Math.Max(1, (int)((long)planes * g.Height * g.Width / PadChunkFloats)));
        var job = _pad ??= new PadJob();
        job.Set(g, planes, chunks, x, padded);
        if (chunks > 1) KernelThreads.For(chunks, job);
        else job.Run(0, 0);
    }

    /// <summary>Floats per thread below which padding stays on one thread (waking a worker costs more).</summary>
    private const int PadChunkFloats = 1 << 15;

    [ThreadStatic] private static PadJob? _pad;

    private sealed class PadJob : IParallelWork
    {
        private ConvGeometry _g;
        private int _planes, _chunks;
        private float* _x, _padded;

        public void Set(in ConvGeometry g, int planes, int chunks, float* x, float* padded)
        {
            _g = g; _planes = planes; _chunks = chunks; _x = x; _padded = padded;
        }

        public void Run(int chunk, int thread)
        {
            var pg = Padded(_g);
            int h = _g.Height, w = _g.Width;
            int first = (int)((long)_planes * chunk / _chunks), end = (int)((long)_planes * (chunk + 1) / _chunks);
            for (long plane = first; plane < end; plane++)
                PaddedPlane.Copy(_x + plane * h * w, h, w, _g.Pad, _padded + plane * pg.Height * pg.Width, pg.Height, pg.Width);
        }
    }

    /// <summary>Where tiles [tile0, tile0 + count) of the batch lie, for a convolution g with its input padded.</summary>
    public static void Map(in ConvGeometry g, int outChannels, int tile0, int count, in TileMap map)
    {
        int oh = g.OutH, ow = g.OutW;
        var pg = Padded(g);
        var tiles = new TileGrid(g);
        int perImage = tiles.PerImage, columns = tiles.Columns;
        for (int j = 0; j < count; j++)
        {
            int t = tile0 + j, n = t / perImage, r = t - n * perImage;
            int oy = r / columns * 2, ox = r % columns * 2;
            map.Input[j] = n * pg.ImageSize + oy * pg.Width + ox;
            map.Output[j] = n * outChannels * oh * ow + oy * ow + ox;
            map.Edges[j] = (ox + 1 < ow ? 1 : 0) | (oy + 1 < oh ? 2 : 0);
        }
    }

    /// <summary>
    /// V[ξ][c][j] = Bᵀ d B for every channel c and tile j of the map, from the padded batch (planes
    /// of pg.Height × pg.Width), each ξ's C × count matrix written as the packed B of the forward
    /// GEMM U[ξ]·V[ξ] (<see cref="GemmDriver.PackedBIndex"/>), <paramref name="plane"/> floats
    /// after the last; the columns past count are zeroed. Eight tiles to a vector.
    /// </summary>
    public static void Inputs(in ConvGeometry pg, float* padded, in TileMap map, int count, float* v, long plane)
    {
        long channelSize = (long)pg.Height * pg.Width;
        int channels = pg.Channels, vectors = Avx.IsSupported ? count / Lanes * Lanes : 0;
        int* offsets = stackalloc int[Lanes];
        // Channel by channel, so each row of the packed B is looked up once.
        for (int c = 0; c < channels; c++)
        {
            var row = GemmDriver.PackedBRow(channels, count, c);
            float* channel = padded + c * channelSize;
            for (int j = 0; j < vectors; j += Lanes)
            {
                int first = map.Input[j];
                for (int l = 0; l < Lanes; l++) offsets[l] = map.Input[j + l] - first;
                InputLanes(channel + first, pg.Width, offsets, v + row.At(j), plane);
            }
            for (int j = vectors; j < count; j++) InputTile(pg, channel + map.Input[j], v + row.At(j), plane);
        }
        ClearPanelEnd(channels, count, v, plane);
    }

    /// <summary>
    /// The same V, each ξ's transpose (count × C) written as the packed B of the weight gradient's
    /// GEMM Z[ξ]·V[ξ]ᵀ, so no GEMM packs it. Eight channels to a vector: their windows, one
    /// channel plane apart, are loaded and transposed as the tiles' are in <see cref="Inputs"/>.
    /// </summary>
    public static void InputsTransposed(in ConvGeometry pg, float* padded, in TileMap map, int count, float* v, long plane)
    {
        int channelSize = pg.Height * pg.Width, channels = pg.Channels;
        int* offsets = stackalloc int[Lanes];
        for (int l = 0; l < Lanes; l++) offsets[l] = l * channelSize;
        for (int j = 0; j < count; j++)
        {
            float* window = padded + map.Input[j];
            var row = GemmDriver.PackedBRow(count, channels, j);
            int c = 0;
            if (Avx.IsSupported)
                for (; c + Lanes <= channels; c += Lanes)
                    InputLanes(window + (long)c * channelSize, pg.Width, offsets, v + row.At(c), plane);
            for (; c < channels; c++)
                InputTile(pg, window + (long)c * channelSize, v + row.At(c), plane);
        }
        ClearPanelEnd(count, channels, v, plane);
    }

    /// <summary><see cref="WinogradTransforms.Input"/> of the one window at <paramref name="window"/>.</summary>
    private static void InputTile(in ConvGeometry pg, float* window, float* v, long plane)
    {
        float* d = stackalloc float[16];
        for (int i = 0; i < 4; i++)
            new ReadOnlySpan<float>(window + (long)i * pg.Width, 4).CopyTo(new Span<float>(d + 4 * i, 4));
        WinogradTransforms.Input(d, v, plane);
    }

    /// <summary>Zeroes the columns past n in the last panel of each ξ's packed k × n B: the tile computes them and never stores them.</summary>
    private static void ClearPanelEnd(int k, int n, float* v, long plane)
    {
        int nr = GemmDriver.NR, width = (n + nr - 1) / nr * nr - n;
        if (width == 0) return;
        // Inline stores, each row looked up once: a library clear per row and ξ took 4% of a resnet
        // epoch (16 channels leave half of each 32-wide AVX-512 panel to clear; perf, Zen 5).
        for (int row = 0; row < k; row++)
        {
            long at = GemmDriver.PackedBRow(k, n, row).At(n);
            for (int xi = 0; xi < 16; xi++)
            {
                float* p = v + xi * plane + at;
                int i = 0;
                if (Avx.IsSupported)
                    for (; i + Lanes <= width; i += Lanes) Avx.Store(p + i, Vector256<float>.Zero);
                for (; i < width; i++) p[i] = 0f;
            }
        }
    }

    /// <summary>y = Aᵀ M A + bias for every output channel o and tile j (M[ξ][o][j], rows ld apart), inside the output only.</summary>
    public static void Outputs(in ConvGeometry g, int outChannels, float* m, int ld, long plane, float* bias, in TileMap map, int count, float* y)
    {
        long channelSize = (long)g.OutH * g.OutW;
        int ow = g.OutW, j = 0;
        if (Avx.IsSupported)
        {
            float* lanes = stackalloc float[4 * Lanes];
            for (; j + Lanes <= count; j += Lanes)
            {
                bool whole = true;
                for (int l = 0; l < Lanes; l++) whole &= map.Edges[j + l] == 3;
                float* yo = y;
                for (int o = 0; o < outChannels; o++, yo += channelSize)
                {
                    var b = Vector256.Create(bias == null ? 0f : bias[o]);
                    OutputLanes(m + (long)o * ld + j, plane, b, out var y0, out var y1, out var y2, out var y3);
                    if (whole)
                    {
                        WritePairs(yo, map.Output + j, y0, y1);
                        WritePairs(yo + ow, map.Output + j, y2, y3);
                        continue;
                    }
                    y0.Store(lanes); y1.Store(lanes + Lanes); y2.Store(lanes + 2 * Lanes); y3.Store(lanes + 3 * Lanes);
                    for (int l = 0; l < Lanes; l++)
                        Write(yo + map.Output[j + l], ow, map.Edges[j + l], lanes[l], lanes[Lanes + l], lanes[2 * Lanes + l], lanes[3 * Lanes + l]);
                }
            }
        }
        for (; j < count; j++)
            for (int o = 0; o < outChannels; o++)
            {
                WinogradTransforms.Output(m + (long)o * ld + j, plane, bias == null ? 0f : bias[o], out float y0, out float y1, out float y2, out float y3);
                Write(y + o * channelSize + map.Output[j], ow, map.Edges[j], y0, y1, y2, y3);
            }
    }

    /// <summary>
    /// <see cref="Outputs"/> followed by 2×2 stride-2 max pooling of y, which is not written. Tiles
    /// and pooling windows both start at even rows and columns, so each whole tile is one window: its
    /// four values are compared by <see cref="Pooling.WindowWinners"/>, as pooling compares them
    /// (strictly greater wins, so the earlier on ties), the winner goes to pooled and its flat index
    /// in y to argmax, and the bits are those of pooling the written y. A tile past the pooled rows
    /// or columns (the last of an odd side) is dropped, as pooling drops it.
    /// </summary>
    public static void OutputsPooled(in ConvGeometry g, int outChannels, float* m, int ld, long plane, float* bias, in TileMap map,
        int count, in PoolGeometry pool, float* pooled, int* argmax)
    {
        long channelSize = (long)g.OutH * g.OutW, imageSize = outChannels * channelSize;
        int ow = g.OutW, pooledPlane = pool.OutPlane;
        // Where each tile's window lands in pooled (channel 0 of its image), −1 where pooling drops the tile.
        int* at = stackalloc int[count];
        for (int j = 0; j < count; j++)
        {
            int output = map.Output[j];
            long n = output / imageSize, r = output - n * imageSize;
            int py = (int)(r / ow) / 2, px = (int)(r % ow) / 2;
            at[j] = py < pool.OutH && px < pool.OutW ? (int)(n * outChannels * pooledPlane) + py * pool.OutW + px : -1;
        }
        int j0 = 0;
        if (Avx2.IsSupported)
        {
            float* best = stackalloc float[Lanes];
            int* winner = stackalloc int[Lanes];
            for (; j0 + Lanes <= count; j0 += Lanes)
            {
                var first = Vector256.Load(map.Output + j0);
                for (int o = 0; o < outChannels; o++)
                {
                    var b = Vector256.Create(bias == null ? 0f : bias[o]);
                    OutputLanes(m + (long)o * ld + j0, plane, b, out var y0, out var y1, out var y2, out var y3);
                    var (max, chosen) = Pooling.WindowWinners(y0, y1, y2, y3, first + Vector256.Create((int)(o * channelSize)), ow);
                    max.Store(best);
                    chosen.Store(winner);
                    long channel = (long)o * pooledPlane;
                    for (int l = 0; l < Lanes; l++)
                    {
                        int to = at[j0 + l];
                        if (to < 0) continue;
                        pooled[channel + to] = best[l];
                        argmax[channel + to] = winner[l];
                    }
                }
            }
        }
        for (int j = j0; j < count; j++)
        {
            if (at[j] < 0) continue;
            for (int o = 0; o < outChannels; o++)
            {
                WinogradTransforms.Output(m + (long)o * ld + j, plane, bias == null ? 0f : bias[o], out float y0, out float y1, out float y2, out float y3);
                int index = (int)(o * channelSize) + map.Output[j], chosen = index;
                float max = y0;
                if (y1 > max) { max = y1; chosen = index + 1; }
                if (y2 > max) { max = y2; chosen = index + ow; }
                if (y3 > max) { max = y3; chosen = index + ow + 1; }
                long to = (long)o * pooledPlane + at[j];
                pooled[to] = max;
                argmax[to] = chosen;
            }
        }
    }

    /// <summary>Each lane's (left, right) pair of one output row, as two adjacent floats at y + offsets[lane].</summary>
    private static void WritePairs(float* y, int* offsets, Vector256<float> left, Vector256<float> right)
    {
        var low = Avx.UnpackLow(left, right);   // lanes 0, 1 | 4, 5 as pairs
        var high = Avx.UnpackHigh(left, right); // lanes 2, 3 | 6, 7
        Sse.StoreLow(y + offsets[0], low.GetLower());
        Sse.StoreHigh(y + offsets[1], low.GetLower());
        Sse.StoreLow(y + offsets[4], low.GetUpper());
        Sse.StoreHigh(y + offsets[5], low.GetUpper());
        Sse.StoreLow(y + offsets[2], high.GetLower());
        Sse.StoreHigh(y + offsets[3], high.GetLower());
        Sse.StoreLow(y + offsets[6], high.GetUpper());
        Sse.StoreHigh(y + offsets[7], high.GetUpper());
    }

    /// <summary>Z[ξ][o][j] = A dY Aᵀ for every output channel o and tile j, zeros past the output's edge.</summary>
    public static void Gradients(in ConvGeometry g, int outChannels, float* dy, in TileMap map, int count, float* z, int ld, long plane)
    {
        long channelSize = (long)g.OutH * g.OutW;
        int ow = g.OutW;
        for (int o = 0; o < outChannels; o++)
        {
            float* dyo = dy + o * channelSize, zo = z + (long)o * ld;
            int j = 0;
            if (Avx2.IsSupported)
                for (; j + Lanes <= count; j += Lanes)
                {
                    int first = map.Output[j];
                    var index = Vector256.Load(map.Output + j) - Vector256.Create(first);
                    var edges = Vector256.Load(map.Edges + j);
                    var right = Vector256.Equals(edges & Vector256.Create(1), Vector256.Create(1)).AsSingle();
                    var below = Vector256.Equals(edges & Vector256.Create(2), Vector256.Create(2)).AsSingle();
                    float* at = dyo + first;
                    var e0 = Avx2.GatherVector256(at, index, 4);
                    var e1 = Avx2.GatherMaskVector256(Vector256<float>.Zero, at + 1, index, right, 4);
                    var e2 = Avx2.GatherMaskVector256(Vector256<float>.Zero, at + ow, index, below, 4);
                    var e3 = Avx2.GatherMaskVector256(Vector256<float>.Zero, at + ow + 1, index, right & below, 4);
                    GradientLanes(e0, e1, e2, e3, zo + j, plane);
                }
            for (; j < count; j++)
            {
                float* at = dyo + map.Output[j];
                int edges = map.Edges[j];
                bool right = (edges & 1) != 0, below = (edges & 2) != 0;
                WinogradTransforms.OutputGradient(at[0], right ? at[1] : 0f, below ? at[ow] : 0f, right && below ? at[ow + 1] : 0f,
                    zo + j, plane);
            }
        }
    }

    private static Vector256<float> Load(float* m, long offset) => Vector256.Load(m + offset);

    private static void Write(float* y, int ow, int edges, float y0, float y1, float y2, float y3)
    {
        y[0] = y0;
        if ((edges & 1) != 0) y[1] = y1;
        if ((edges & 2) == 0) return;
        y[ow] = y2;
        if ((edges & 1) != 0) y[ow + 1] = y3;
    }

    /// <summary>
    /// <see cref="WinogradTransforms.Input"/> on eight tiles whose windows are at image + offsets[l]:
    /// each window row is loaded as four floats and the eight
    /// loads transposed into four vectors, one per window column.
    /// </summary>
    private static void InputLanes(float* image, int width, int* offsets, float* v, long stride)
    {
        Transposed(image, offsets, out var d00, out var d01, out var d02, out var d03);
        Transposed(image + width, offsets, out var d10, out var d11, out var d12, out var d13);
        Transposed(image + 2 * width, offsets, out var d20, out var d21, out var d22, out var d23);
        Transposed(image + 3 * width, offsets, out var d30, out var d31, out var d32, out var d33);
        InputRows(d00, d01, d02, d03, d10, d11, d12, d13, d20, d21, d22, d23, d30, d31, d32, d33, v, stride);
    }

    /// <summary>Four floats at row + offsets[l] for each lane l, as four vectors: element k of every lane's row.</summary>
    private static void Transposed(float* row, int* offsets, out Vector256<float> c0, out Vector256<float> c1,
        out Vector256<float> c2, out Vector256<float> c3)
    {
        // Lanes l and l + 4 share a register: a = tiles 0|4, b = 1|5, c = 2|6, d = 3|7.
        var a = Vector256.Create(Vector128.Load(row + offsets[0]), Vector128.Load(row + offsets[4]));
        var b = Vector256.Create(Vector128.Load(row + offsets[1]), Vector128.Load(row + offsets[5]));
        var c = Vector256.Create(Vector128.Load(row + offsets[2]), Vector128.Load(row + offsets[6]));
        var d = Vector256.Create(Vector128.Load(row + offsets[3]), Vector128.Load(row + offsets[7]));
        var ab0 = Avx.UnpackLow(a, b); var ab1 = Avx.UnpackHigh(a, b);   // a0 b0 a1 b1 | …, a2 b2 a3 b3 | …
        var cd0 = Avx.UnpackLow(c, d); var cd1 = Avx.UnpackHigh(c, d);
        c0 = Avx.Shuffle(ab0, cd0, 0x44); c1 = Avx.Shuffle(ab0, cd0, 0xEE);
        c2 = Avx.Shuffle(ab1, cd1, 0x44); c3 = Avx.Shuffle(ab1, cd1, 0xEE);
    }

    /// <summary>Bᵀ d B from the 16 window elements d_rk (row r, column k), stored as 16 rows of lanes, stride apart.</summary>
    private static void InputRows(Vector256<float> d00, Vector256<float> d01, Vector256<float> d02, Vector256<float> d03,
        Vector256<float> d10, Vector256<float> d11, Vector256<float> d12, Vector256<float> d13,
        Vector256<float> d20, Vector256<float> d21, Vector256<float> d22, Vector256<float> d23,
        Vector256<float> d30, Vector256<float> d31, Vector256<float> d32, Vector256<float> d33, float* v, long stride)
    {
        // The rows of Bᵀ d (d0 − d2, d1 + d2, d2 − d1, d1 − d3), each then times B.
        Columns(d00 - d20, d01 - d21, d02 - d22, d03 - d23, v, stride);
        Columns(d10 + d20, d11 + d21, d12 + d22, d13 + d23, v + 4 * stride, stride);
        Columns(d20 - d10, d21 - d11, d22 - d12, d23 - d13, v + 8 * stride, stride);
        Columns(d10 - d30, d11 - d31, d12 - d32, d13 - d33, v + 12 * stride, stride);

        static void Columns(Vector256<float> t0, Vector256<float> t1, Vector256<float> t2, Vector256<float> t3, float* v, long stride)
        {
            (t0 - t2).Store(v);
            (t1 + t2).Store(v + stride);
            (t2 - t1).Store(v + 2 * stride);
            (t1 - t3).Store(v + 3 * stride);
        }
    }

    /// <summary><see cref="WinogradTransforms.Output"/> on eight tiles.</summary>
    private static void OutputLanes(float* m, long stride, Vector256<float> bias,
        out Vector256<float> y0, out Vector256<float> y1, out Vector256<float> y2, out Vector256<float> y3)
    {
        var s00 = Load(m, 0) + Load(m, 4 * stride) + Load(m, 8 * stride); var s10 = Load(m, 4 * stride) - Load(m, 8 * stride) - Load(m, 12 * stride);
        var s01 = Load(m, stride) + Load(m, 5 * stride) + Load(m, 9 * stride); var s11 = Load(m, 5 * stride) - Load(m, 9 * stride) - Load(m, 13 * stride);
        var s02 = Load(m, 2 * stride) + Load(m, 6 * stride) + Load(m, 10 * stride); var s12 = Load(m, 6 * stride) - Load(m, 10 * stride) - Load(m, 14 * stride);
        var s03 = Load(m, 3 * stride) + Load(m, 7 * stride) + Load(m, 11 * stride); var s13 = Load(m, 7 * stride) - Load(m, 11 * stride) - Load(m, 15 * stride);
        y0 = s00 + s01 + s02 + bias;
        y1 = s01 - s02 - s03 + bias;
        y2 = s10 + s11 + s12 + bias;
        y3 = s11 - s12 - s13 + bias;
    }

    /// <summary><see cref="WinogradTransforms.OutputGradient"/> on eight tiles.</summary>
    private static void GradientLanes(Vector256<float> e0, Vector256<float> e1, Vector256<float> e2, Vector256<float> e3, float* z, long stride)
    {
        Row(e0, e1, z, stride);
        Row(e0 + e2, e1 + e3, z + 4 * stride, stride);
        Row(e0 - e2, e1 - e3, z + 8 * stride, stride);
        Row(-e2, -e3, z + 12 * stride, stride);

        static void Row(Vector256<float> a, Vector256<float> b, float* z, long stride)
        {
            a.Store(z);
            (a + b).Store(z + stride);
            (a - b).Store(z + 2 * stride);
            (-b).Store(z + 3 * stride);
        }
    }
}
