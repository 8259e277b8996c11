// hepsift::Model: one ONNX model, one ONNX Runtime session.
//
// The header needs neither ONNX Runtime's nor ROOT's headers: ONNX Runtime stays behind
// a private implementation and is loaded at run time (see Runtime.hxx), so the same header
// serves compiled programs, ROOT macros and cling (PyROOT).
//
// A model has one input tensor of float, shape [batch, nFeatures] (or [batch] for one
// feature, or an image [batch, C, H, W] with fixed C, H, W: nFeatures = C*H*W values per
// event), or a set of objects [batch, P, F] (optional 'mask' [batch, P]), or the objects of
// every jet [batch, J, P, F] with a 'mask' [batch, J, P] (a "grouped set", such as the
// JetTagger's), and one or more outputs. One output is "the score": the one named by the
// option `output`, else the one named in the model's metadata (hepsift.score_output), else
// the first float output. Its width (product of the non-batch dimensions) is nScores().
//
// Thread safety: a const Model may be used from many threads at once (ONNX Runtime's
// Session::Run is thread-safe); each thread uses its own Workspace.
#ifndef HEPSIFT_MODEL_HXX
#define HEPSIFT_MODEL_HXX

#include "hepsift/Errors.hxx"

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace hepsift {

struct ModelOptions {
   /// Threads ONNX Runtime uses inside one evaluation (intra-op); 0 lets ONNX Runtime choose.
   int threads = 1;
   /// Execution provider: "cpu" or "cuda".
   std::string provider = "cpu";
   /// With provider "cuda": fall back to the CPU (instead of throwing ProviderError) when no
   /// usable GPU or CUDA provider exists.
   bool allowFallback = false;
   /// CUDA device ordinal.
   int deviceId = 0;
   /// Name of the output that is the score; empty: metadata, else the first float output.
   std::string output;
   /// On the CPU, a batch larger than this is evaluated in model calls of at most `cpuChunk`
   /// events, so that the intermediate results of each call stay in the processor's caches
   /// (a 100k-event call of a 64-wide MLP is slower per event than 4096-event calls); 0 calls
   /// the model on the whole batch. The CUDA provider always takes whole batches.
   std::size_t cpuChunk = 4096;
};

class Model;

/// Buffers for evaluating up to `capacity` events in one call, owned by one thread.
/// Made by Model::makeWorkspace; filled through input(), results read from output().
/// On CUDA the buffers are page-locked host memory (fast transfers to and from the GPU).
/// A Workspace must not outlive the Model that made it.
class Workspace {
public:
   Workspace(Workspace &&) noexcept;
   Workspace &operator=(Workspace &&) noexcept;
   ~Workspace();
   /// nFeatures * capacity floats, event-major (event i starts at i * nFeatures).
   float *input();
   /// nScores * capacity floats, event-major.
   const float *output() const;
   std::size_t capacity() const;

private:
   friend class Model;
   struct Impl;
   explicit Workspace(std::unique_ptr<Impl> impl);
   std::unique_ptr<Impl> fImpl;
};

class Model {
public:
   explicit Model(const std::string &path, const ModelOptions &options = ModelOptions());
   Model(Model &&) noexcept;
   Model &operator=(Model &&) noexcept;
   Model(const Model &) = delete;
   Model &operator=(const Model &) = delete;
   ~Model();

   const std::string &path() const;
   /// The provider the session really uses ("cpu" or "cuda").
   const std::string &provider() const;

   const std::vector<std::string> &inputNames() const;
   /// Shapes as declared in the file; -1 marks a dynamic dimension.
   const std::vector<std::vector<std::int64_t>> &inputShapes() const;
   const std::vector<std::string> &outputNames() const;
   const std::vector<std::vector<std::int64_t>> &outputShapes() const;
   /// ONNX element type names of the outputs ("float", "int64", ...).
   const std::vector<std::string> &outputTypes() const;

   /// Number of features per event (width of the input tensor; C*H*W for an image model).
   std::size_t nFeatures() const;
   /// "flat" (input [batch, nFeatures] or [batch]), "set" (see masked()), "grouped-set" (see
   /// evaluateGroupedSet()) or "image" (input [batch, C, H, W] or [batch, H, W, C] with fixed
   /// C, H, W: fed nFeatures() values per event, row-major in the order the file declares, e.g.
   /// one ROOT::RVec<float> column from hepsift/Images.hxx).
   const std::string &inputKind() const;
   /// Shape of one event's input (no batch dimension) for an image model, {-1, F} for a set
   /// model, {-1, -1, F} for a grouped set model; empty for "flat".
   const std::vector<std::int64_t> &eventShape() const;
   /// Set models ("set": objects [batch, P, F] with a dynamic P, nFeatures() = F): whether the
   /// model has a second input 'mask' [batch, P] (1 real object, 0 padding), and whether its
   /// score has one value per object ([batch, P] or [batch, P, 1]; nScores() is then 1).
   /// A grouped set model always has a mask and a score per jet (perObject(): per jet).
   bool masked() const;
   bool perObject() const;
   /// Set models: evaluate `nEvents` events of `nObjects` (>= 1) objects each. `objects` holds
   /// nEvents * nObjects * nFeatures() floats (event, object, feature), `mask` nEvents *
   /// nObjects floats (unused, may be null, without a mask input); `out` receives nEvents *
   /// nScores() floats, or nEvents * nObjects for a per-object score.
   void evaluateSet(const float *objects, const float *mask, std::size_t nEvents, std::size_t nObjects,
                    float *out) const;
   /// Grouped set models ("grouped-set": objects [batch, J, P, F] with dynamic J and P, mask
   /// [batch, J, P], one score per jet [batch, J] or [batch, J, 1]; nFeatures() = F): evaluate
   /// `nEvents` events of `nJets` (>= 1) jets of `nObjects` (>= 1) objects each. `objects` holds
   /// nEvents * nJets * nObjects * nFeatures() floats (event, jet, object, feature), `mask`
   /// nEvents * nJets * nObjects floats (1 real object, 0 padding); `out` receives nEvents *
   /// nJets floats. What a jet without real objects scores is the model's own convention
   /// (hepsift's JetTagger: 0).
   void evaluateGroupedSet(const float *objects, const float *mask, std::size_t nEvents, std::size_t nJets,
                           std::size_t nObjects, float *out) const;
   /// Index (into outputNames) and width of the score output.
   std::size_t scoreIndex() const;
   std::size_t nScores() const;
   /// Events per model call on the CPU (ModelOptions::cpuChunk; 0 on CUDA: whole batches).
   std::size_t chunk() const;

   /// Ordered feature names from the hepsift metadata (empty for a plain ONNX model).
   const std::vector<std::string> &featureNames() const;
   /// Metadata property `key` ("" when absent) and all metadata properties.
   std::string metadata(const std::string &key) const;
   const std::map<std::string, std::string> &metadataMap() const;
   /// hepsift.kind ("classifier", "anomaly", "generator", "regressor"; "" for plain ONNX).
   std::string kind() const;
   /// hepsift.version that wrote the file ("" for plain ONNX).
   std::string hepsiftVersion() const;

   /// Evaluate `nEvents` events: `in` holds nEvents * nFeatures() floats (event-major),
   /// `out` receives nEvents * nScores() floats. No allocation of event-sized buffers. On the
   /// CPU, in model calls of at most ModelOptions::cpuChunk events.
   void evaluate(const float *in, std::size_t nEvents, float *out) const;
   /// Convenience form returning a new vector; in.size() must be a multiple of nFeatures().
   std::vector<float> evaluate(const std::vector<float> &in) const;

   /// Buffers and bound tensors for batches of `capacity` events (one per thread).
   Workspace makeWorkspace(std::size_t capacity) const;
   /// Evaluate the first `nEvents` (<= capacity) events held in `ws` (chunked as evaluate()).
   void run(Workspace &ws, std::size_t nEvents) const;

private:
   struct Impl;
   std::unique_ptr<Impl> fImpl;
};

/// Path of the ONNX Runtime shared library to use, when it is not the default (the
/// environment variable HEPSIFT_ONNXRUNTIME_LIB, then the library found at build time, then
/// libonnxruntime.so.1 on the loader's path). Must be called before the first Model.
void setOnnxRuntimeLibrary(const std::string &path);
/// Path of the ONNX Runtime library in use (loads it if needed) and its version string.
std::string onnxRuntimeLibrary();
std::string onnxRuntimeVersion();
/// Execution providers the loaded ONNX Runtime offers ("CPUExecutionProvider", ...).
std::vector<std::string> availableProviders();
/// hepsift library version.
std::string version();

} // namespace hepsift

#endif
