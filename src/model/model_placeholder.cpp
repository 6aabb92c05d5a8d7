// Placeholder so the layer library builds before its first real source lands.
namespace fhellm::model { int model_layer_placeholder = 0; }
