// Placeholder so the layer library builds before its first real source lands.
namespace fhellm::math { int math_layer_placeholder = 0; }
