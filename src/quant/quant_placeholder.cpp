// Placeholder so the layer library builds before its first real source lands.
namespace fhellm::quant { int quant_layer_placeholder = 0; }
