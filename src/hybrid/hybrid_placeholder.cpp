// Placeholder so the layer library builds before its first real source lands.
namespace fhellm::hybrid { int hybrid_layer_placeholder = 0; }
